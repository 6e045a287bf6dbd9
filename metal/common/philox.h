// Philox4x32-10 (Salmon et al., "Parallel Random Numbers: As Easy as 1, 2, 3", SC'11): a
// counter-based generator, so element i's number depends only on (seed, i), never on the grid.
#pragma once

#include <metal_stdlib>
using namespace metal;

// The four 32-bit outputs for counter `ctr` and key `key`.
inline uint4 philox4x32_10(uint4 ctr, uint2 key) {
  for (uint round = 0; round < 10; ++round) {
    if (round > 0) {
      key += uint2(0x9E3779B9u, 0xBB67AE85u);
    }
    const uint hi0 = mulhi(0xD2511F53u, ctr.x), lo0 = 0xD2511F53u * ctr.x;
    const uint hi1 = mulhi(0xCD9E8D57u, ctr.z), lo1 = 0xCD9E8D57u * ctr.z;
    ctr = uint4(hi1 ^ ctr.y ^ key.x, lo1, hi0 ^ ctr.w ^ key.y, lo0);
  }
  return ctr;
}

// A float in [0, 1) from the top 24 bits (exact in float: every value is k * 2^-24).
inline float philox_unit(uint bits) {
  return float(bits >> 8) * 5.9604644775390625e-8f;
}
