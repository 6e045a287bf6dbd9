// The host device's vendor BLAS (host_matmul.cpp): single-threaded calls inside the worker
// pool's tasks, shared by MatmulCommand and the graph executor's matmul and attention nodes.
#pragma once

#include <cstddef>
#include <cstdint>

#include "backends/host/worker_pool.hpp"

namespace metallic::host {

/// `batch` row-major f32 products C = alpha op(A) op(B) + beta C, each operand's entries a
/// uniform stride apart (0: one matrix for every entry).
struct SgemmProblem {
  uint32_t m, n, k, batch;
  bool transpose_a, transpose_b;
  size_t lda, ldb, ldc;
  size_t a_batch_stride, b_batch_stride, c_batch_stride;
  float alpha, beta;
  const float* a;
  const float* b;
  float* c;
};

/// Runs `problem` on the pool: blocks of C spread over the workers, the BLAS single-threaded.
void parallel_sgemm(WorkerPool& pool, const SgemmProblem& problem);

/// One row-major f32 C = alpha op(A) op(B) + beta C on the calling thread (inside a pool task).
void sgemm(bool transpose_a, bool transpose_b, size_t m, size_t n, size_t k, float alpha,
           const float* a, size_t lda, const float* b, size_t ldb, float beta, float* c,
           size_t ldc);

}  // namespace metallic::host
