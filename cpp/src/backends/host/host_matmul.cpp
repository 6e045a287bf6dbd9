// MatmulCommand on the host device: the vendor BLAS (OpenBLAS from the scipy-openblas32 wheel on
// Linux, Accelerate on macOS) plays the role MPSMatrixMultiplication plays on Metal. The BLAS runs
// single-threaded inside the worker pool's tasks, one block of C per worker, so a matmul uses
// exactly the pool's cores and no BLAS threads spin beside the next kernel's workers.
// f16/bf16 operands are widened to f32 first (as MPS accumulates f16 in f32).
#include <algorithm>
#include <mutex>
#include <vector>

#include "backends/host/host_blas.hpp"
#include "backends/host/host_device.hpp"
#include "core/float16.hpp"
#include "metallic/error.hpp"

#if defined(METALLIC_BLAS_ACCELERATE)
#include <Accelerate/Accelerate.h>
#define METALLIC_SGEMM cblas_sgemm
#define METALLIC_SGEMV cblas_sgemv
#else
#include <cblas.h>  // scipy-openblas32: every symbol carries the scipy_ prefix
#define METALLIC_SGEMM scipy_cblas_sgemm
#define METALLIC_SGEMV scipy_cblas_sgemv
#endif

namespace metallic::host {

namespace {

/// One BLAS thread per call: the worker pool supplies the parallelism. Set once per process.
void use_single_threaded_blas() {
  static std::once_flag once;
  std::call_once(once, [] {
#if !defined(METALLIC_BLAS_ACCELERATE)
    scipy_openblas_set_num_threads(1);
#endif
  });
}

/// `count` elements of `dtype` at `src` as floats.
std::vector<float> widen(const uint8_t* src, DType dtype, size_t count) {
  std::vector<float> out(count);
  const auto* s = reinterpret_cast<const uint16_t*>(src);
  for (size_t i = 0; i < count; ++i) {
    out[i] = dtype == DType::F16 ? f16_to_float(s[i]) : bf16_to_float(s[i]);
  }
  return out;
}

/// The float operands of one MatmulCommand: the tensors' own memory for f32, widened copies else.
struct FloatOperands {
  const float* a;
  const float* b;
  float* c;
  std::vector<float> a_copy, b_copy, c_copy;
};

}  // namespace

void sgemm(bool transpose_a, bool transpose_b, size_t m, size_t n, size_t k, float alpha,
           const float* a, size_t lda, const float* b, size_t ldb, float beta, float* c,
           size_t ldc) {
  use_single_threaded_blas();
  METALLIC_SGEMM(CblasRowMajor, transpose_a ? CblasTrans : CblasNoTrans,
                 transpose_b ? CblasTrans : CblasNoTrans, int(m), int(n), int(k), alpha, a,
                 int(std::max<size_t>(lda, 1)), b, int(std::max<size_t>(ldb, 1)), beta, c,
                 int(std::max<size_t>(ldc, 1)));
}

void parallel_sgemm(WorkerPool& pool, const SgemmProblem& m) {
  use_single_threaded_blas();
  const size_t lda = std::max<size_t>(1, m.lda), ldb = std::max<size_t>(1, m.ldb);
  const size_t ldc = std::max<size_t>(1, m.ldc);
  // Blocks of C, one per worker. Each worker reads all of the operand it does not split: split
  // the (batch x M) rows when B is the smaller operand (M >= N) or there are batches enough to
  // go round, else the columns (decode, prefill against a wide weight such as an lm head).
  const uint32_t workers = pool.size();
  const uint64_t rows = uint64_t(m.batch) * m.m;
  const bool split_rows = m.batch >= workers || m.m >= m.n || m.n < workers * 16;
  const auto ta = m.transpose_a ? CblasTrans : CblasNoTrans;
  const auto tb = m.transpose_b ? CblasTrans : CblasNoTrans;
  const float alpha = m.alpha, beta = m.beta;
  pool.parallel_for(workers, [&](uint32_t first, uint32_t count) {
    for (uint32_t part = first; part < first + count; ++part) {
      if (split_rows) {
        const uint64_t r0 = rows * part / workers, r1 = rows * (part + 1) / workers;
        for (uint64_t r = r0; r < r1;) {  // row ranges within one batch entry
          const uint32_t batch = uint32_t(r / m.m), i = uint32_t(r % m.m);
          const uint32_t n_rows = uint32_t(std::min<uint64_t>(r1 - r, m.m - i));
          const float* a = m.a + batch * m.a_batch_stride + (m.transpose_a ? i : i * lda);
          METALLIC_SGEMM(CblasRowMajor, ta, tb, int(n_rows), int(m.n), int(m.k), alpha, a, int(lda),
                         m.b + batch * m.b_batch_stride, int(ldb), beta,
                         m.c + batch * m.c_batch_stride + size_t(i) * ldc, int(ldc));
          r += n_rows;
        }
      } else {
        const uint32_t j0 = uint32_t(uint64_t(m.n) * part / workers);
        const uint32_t j1 = uint32_t(uint64_t(m.n) * (part + 1) / workers);
        if (j1 == j0) continue;
        for (uint32_t batch = 0; batch < m.batch; ++batch) {
          const float* a = m.a + batch * m.a_batch_stride;
          const float* b = m.b + batch * m.b_batch_stride + (m.transpose_b ? j0 * ldb : j0);
          float* c = m.c + batch * m.c_batch_stride + j0;
          if (m.m == 1) {  // decode: c = op(B)^T a as a mat-vec, which BLAS streams faster
            const auto tv = m.transpose_b ? CblasNoTrans : CblasTrans;
            const int rows = m.transpose_b ? int(j1 - j0) : int(m.k);
            const int cols = m.transpose_b ? int(m.k) : int(j1 - j0);
            METALLIC_SGEMV(CblasRowMajor, tv, rows, cols, alpha, b, int(ldb), a,
                           m.transpose_a ? int(lda) : 1, beta, c, 1);
          } else {
            METALLIC_SGEMM(CblasRowMajor, ta, tb, int(m.m), int(j1 - j0), int(m.k), alpha, a,
                           int(lda), b, int(ldb), beta, c, int(ldc));
          }
        }
      }
    }
  });
}

void HostQueue::run_matmul(const MatmulCommand& m) {
  if (!dtype_is_float(m.dtype)) {
    throw DTypeError(std::string("matmul supports f32, f16 and bf16, not ") + dtype_name(m.dtype));
  }
  const size_t a_cols = m.transpose_a ? m.m : m.k, b_cols = m.transpose_b ? m.k : m.n;
  const size_t a_rows = m.transpose_a ? m.k : m.m, b_rows = m.transpose_b ? m.n : m.k;
  // BLAS wants leading dimensions of at least 1, even for empty matrices (K = 0).
  const size_t lda = std::max<size_t>(1, m.lda ? m.lda : a_cols);
  const size_t ldb = std::max<size_t>(1, m.ldb ? m.ldb : b_cols);
  const size_t ldc = std::max<size_t>(1, m.ldc ? m.ldc : m.n);
  auto* a_base = static_cast<const uint8_t*>(m.a->contents()) + m.a_offset;
  auto* b_base = static_cast<const uint8_t*>(m.b->contents()) + m.b_offset;
  auto* c_base = static_cast<uint8_t*>(m.c->contents()) + m.c_offset;
  // Elements each operand spans over all batch entries (row strides and batch strides included).
  auto span = [&](size_t stride, size_t rows, size_t ld, size_t cols) {
    return size_t(m.batch - 1) * stride + (rows ? (rows - 1) * ld + cols : 0);
  };
  const size_t a_span = span(m.a_batch_stride, a_rows, lda, a_cols);
  const size_t b_span = span(m.b_batch_stride, b_rows, ldb, b_cols);
  const size_t c_span = span(m.c_batch_stride, m.m, ldc, m.n);
  FloatOperands f{};
  if (m.dtype == DType::F32) {
    f.a = reinterpret_cast<const float*>(a_base);
    f.b = reinterpret_cast<const float*>(b_base);
    f.c = reinterpret_cast<float*>(c_base);
  } else {
    f.a_copy = widen(a_base, m.dtype, a_span);
    f.b_copy = widen(b_base, m.dtype, b_span);
    f.c_copy = m.beta != 0.0 ? widen(c_base, m.dtype, c_span) : std::vector<float>(c_span);
    f.a = f.a_copy.data();
    f.b = f.b_copy.data();
    f.c = f.c_copy.data();
  }
  parallel_sgemm(workers_, {m.m, m.n, m.k, m.batch, m.transpose_a, m.transpose_b, lda, ldb, ldc,
                            m.a_batch_stride, m.b_batch_stride, m.c_batch_stride, float(m.alpha),
                            float(m.beta), f.a, f.b, f.c});

  if (m.dtype != DType::F32) {  // narrow C's rows back (only the rows and columns of C)
    auto* out = reinterpret_cast<uint16_t*>(c_base);
    for (uint32_t batch = 0; batch < m.batch; ++batch) {
      for (uint32_t i = 0; i < m.m; ++i) {
        const size_t row = batch * m.c_batch_stride + size_t(i) * ldc;
        for (uint32_t j = 0; j < m.n; ++j) {
          const float v = f.c[row + j];
          out[row + j] = m.dtype == DType::F16 ? float_to_f16(v) : float_to_bf16(v);
        }
      }
    }
  }
}

}  // namespace metallic::host
