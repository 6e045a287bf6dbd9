// Argument struct of the softmax kernels, shared by metal/softmax/kernel.metal and
// cpp/src/ops/softmax.cpp so the layout cannot drift.
#pragma once

struct SoftmaxParams {
  uint n;         // row length (keys, Lk)
  uint rows;      // rows of x
  uint rows_per_group;  // vec: rows per SIMD group, block: per threadgroup, in turn (1 on a GPU)
  uint lq;        // causal: queries per matrix (x's dim -2); row r is query r % lq
  uint causal;    // 1: key k is visible to query q when k <= q + n - lq (bottom-right aligned)
  uint has_mask;  // 1: mask row mask_row(r) is added after scaling
  uint lead[3];   // x's leading dims (before the last), padded in front with 1s
  uint mask_stride[3];  // mask rows between steps of each leading dim (0: broadcast)
  uint vec4;      // 1 when n % 4 == 0 and x, mask and out rows are 4-vector aligned
  float scale;
};
