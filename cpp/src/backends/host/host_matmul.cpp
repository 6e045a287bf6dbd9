// MatmulCommand on the host device: the reference GEMM that stands in for MPSMatrixMultiplication.
// Accumulates in float (as MPS does for f16), one output row per task.
#include <vector>

#include "backends/host/host_device.hpp"
#include "core/float16.hpp"
#include "metallic/error.hpp"

namespace metallic::host {

namespace {

struct MatrixView {
  const uint8_t* base;
  DType dtype;
  size_t row_stride, col_stride;  // elements

  float at(size_t r, size_t c) const {
    const size_t i = r * row_stride + c * col_stride;
    if (dtype == DType::F16) return f16_to_float(reinterpret_cast<const uint16_t*>(base)[i]);
    return reinterpret_cast<const float*>(base)[i];
  }
};

}  // namespace

void HostQueue::run_matmul(const MatmulCommand& m) {
  if (m.dtype != DType::F32 && m.dtype != DType::F16) {
    throw DTypeError(std::string("matmul supports f32 and f16, not ") + dtype_name(m.dtype));
  }
  const size_t elem = dtype_size(m.dtype);
  const size_t a_cols = m.transpose_a ? m.m : m.k, b_cols = m.transpose_b ? m.k : m.n;
  const size_t lda = m.lda ? m.lda : a_cols, ldb = m.ldb ? m.ldb : b_cols,
               ldc = m.ldc ? m.ldc : m.n;
  auto* a_base = static_cast<const uint8_t*>(m.a->contents()) + m.a_offset;
  auto* b_base = static_cast<const uint8_t*>(m.b->contents()) + m.b_offset;
  auto* c_base = static_cast<uint8_t*>(m.c->contents()) + m.c_offset;
  const uint64_t rows = uint64_t(m.batch) * m.m;
  workers_.parallel_for(static_cast<uint32_t>(rows), [&](uint32_t first, uint32_t count) {
    std::vector<float> acc(m.n);
    for (uint32_t row = first; row < first + count; ++row) {
      const uint32_t batch = row / m.m, i = row % m.m;
      // op(A)[i, p] and op(B)[p, j] through strides, whatever the transposition.
      const MatrixView a{a_base + batch * m.a_batch_stride * elem, m.dtype, m.transpose_a ? 1 : lda,
                         m.transpose_a ? lda : 1};
      const MatrixView b{b_base + batch * m.b_batch_stride * elem, m.dtype, m.transpose_b ? 1 : ldb,
                         m.transpose_b ? ldb : 1};
      std::fill(acc.begin(), acc.end(), 0.0f);
      for (uint32_t p = 0; p < m.k; ++p) {
        const float av = a.at(i, p);
        for (uint32_t j = 0; j < m.n; ++j) acc[j] += av * b.at(p, j);
      }
      uint8_t* c_row = c_base + (batch * m.c_batch_stride + size_t(i) * ldc) * elem;
      for (uint32_t j = 0; j < m.n; ++j) {
        if (m.dtype == DType::F16) {
          auto* c = reinterpret_cast<uint16_t*>(c_row) + j;
          const float old = m.beta != 0.0 ? f16_to_float(*c) : 0.0f;
          *c = float_to_f16(float(m.alpha) * acc[j] + float(m.beta) * old);
        } else {
          auto* c = reinterpret_cast<float*>(c_row) + j;
          const float old = m.beta != 0.0 ? *c : 0.0f;
          *c = float(m.alpha) * acc[j] + float(m.beta) * old;
        }
      }
    }
  });
}

}  // namespace metallic::host
