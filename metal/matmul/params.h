// Arguments of the matmul GEMM kernels, shared by metal/matmul/kernel.metal and
// cpp/src/ops/matmul.cpp (which defines `uint` as uint32_t before including it).
#pragma once

struct MatmulParams {
  uint m, n, k;        // op(A) is M x K, op(B) K x N, C M x N
  uint lda, ldb, ldc;  // row strides of A, B (as stored) and C, in elements
  uint a_batch_stride, b_batch_stride, c_batch_stride;  // elements
  uint a_batches, b_batches;  // output batch entry z uses entry z % a_batches of A (same for B)
  uint transpose_a, transpose_b;  // 1: A is stored K x M, B is stored N x K
  float alpha, beta;              // C = alpha * op(A) @ op(B) + beta * C_in
};
