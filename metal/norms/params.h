// Argument struct of the norm kernels, shared by metal/norms/kernel.metal and
// cpp/src/ops/norms.cpp so the layout cannot drift.
#pragma once

struct NormParams {
  uint n;     // row length (the last axis)
  uint rows;  // rows of x
  uint rows_per_group;  // rows each threadgroup normalises in turn (1 on a GPU, see norms.cpp)
  uint vec4;  // 1 when n % 4 == 0 and every row of every tensor is 4-vector aligned
  float eps;  // added to the mean square (rms_norm) or the variance (layer_norm)
};
