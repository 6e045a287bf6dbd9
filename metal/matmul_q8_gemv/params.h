// Arguments of the GEMV kernels (metal/common/gemv_core.metal), shared with
// cpp/src/ops/matmul_q8_gemv.cpp (which defines `uint` as uint32_t before including it).
#pragma once

struct GemvParams {
  uint m;       // activation rows (any count; each thread takes up to kGemvRows of them)
  uint n;       // outputs per row
  uint k;       // reduction length (a multiple of 32 for quantized weights)
  float alpha;  // out = alpha * x @ op(W)
};
