// Argument struct of the sample kernel, shared by metal/sample/kernel.metal and
// cpp/src/ops/sample.cpp so the layout cannot drift.
#pragma once

struct SampleParams {
  uint vocab;
  uint greedy;  // temperature 0: argmax
  float inv_temperature;
  uint top_k;   // 0 or >= vocab: off
  float top_p;  // 1: off
  uint seed_lo, seed_hi;  // Philox key
  uint step_lo, step_hi;  // Philox counter words 1 and 2 (word 0 is the row)
};
