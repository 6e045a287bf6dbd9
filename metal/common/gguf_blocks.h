// GGUF block layouts (ggml's block_q8_0 / block_q4_0), the same bytes as in a GGUF file: an f16
// scale d, then 32 weights. Shared by the quantize and matmul_q8_gemv libraries.
#pragma once

#include <metal_stdlib>
using namespace metal;

struct BlockQ8_0 {
  half d;
  char qs[32];  // w[i] = d * qs[i]
};
struct BlockQ4_0 {
  half d;
  uchar qs[16];  // w[i] = d * ((qs[i] & 15) - 8), w[i + 16] = d * ((qs[i] >> 4) - 8)
};
