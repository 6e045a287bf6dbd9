// Host side of metal/matmul_q8_gemv: validation, kernel choice by weight format, binding.
#include "metallic/ops/matmul_q8_gemv.hpp"

#include <limits>

#include "metallic/error.hpp"
#include "metallic/kernel_variants.hpp"
#include "metallic/op_registry.hpp"

namespace metallic {

namespace {
using uint = uint32_t;
#include "matmul_q8_gemv/params.h"

constexpr uint32_t kRowsPerThread = 8;  // kGemvRows in gemv_core.metal

const KernelVariants kGemvKernels("matmul_q8_gemv", {"q8_0", "q4_0", "rows", "cols"});

const char* weight_form(DType weight, bool transpose_b) {
  if (weight == DType::Q8_0) return "q8_0";
  if (weight == DType::Q4_0) return "q4_0";
  return transpose_b ? "rows" : "cols";
}
}  // namespace

std::pair<MatmulQ8GemvOp::Operation, Tensor> MatmulQ8GemvOp::create(Context& ctx,
                                                                    const Args& args) {
  const Tensor& x = args.x;
  const Tensor& w = args.weight;
  if (!x.defined() || !w.defined()) throw ArgumentError("matmul_q8_gemv: undefined tensor");
  const bool quantized = dtype_is_quantized(w.dtype());
  if (!quantized && w.dtype() != x.dtype()) {
    throw DTypeError(std::string("matmul_q8_gemv: a dense weight must have x's dtype (x is ") +
                     dtype_name(x.dtype()) + ", weight " + dtype_name(w.dtype()) + ")");
  }
  if (quantized && !args.transpose_b) {
    throw ArgumentError(
        "matmul_q8_gemv: a quantized weight W (N, K) is used as x @ W^T: pass transpose_b=True");
  }
  if (x.ndim() < 1 || w.ndim() != 2) {
    throw ShapeError("matmul_q8_gemv: x must be [..., M, K] and weight 2-d, got " +
                     shape_str(x.shape()) + " and " + shape_str(w.shape()));
  }
  if (!x.is_contiguous() || !w.is_contiguous()) {
    throw ShapeError("matmul_q8_gemv: x and weight must be contiguous");
  }
  const int64_t k = x.dim(-1);
  const int64_t n = args.transpose_b ? w.dim(0) : w.dim(1);
  const int64_t wk = args.transpose_b ? w.dim(1) : w.dim(0);
  if (wk != k) {
    throw ShapeError("matmul_q8_gemv: x " + shape_str(x.shape()) + " has K = " + std::to_string(k) +
                     " but weight " + shape_str(w.shape()) +
                     (args.transpose_b ? " (N x K)" : " (K x N)") +
                     " has K = " + std::to_string(wk));
  }
  int64_t m = 1;  // rows: every dimension of x but the last
  for (size_t d = 0; d + 1 < x.ndim(); ++d) m *= x.shape()[d];
  const int64_t limit = std::numeric_limits<uint32_t>::max();
  if (x.numel() > limit || w.numel() > limit || m * n > limit) {
    throw ShapeError("matmul_q8_gemv: tensors must have fewer than 2^32 elements");
  }
  const KernelFunction fn = kGemvKernels.get(weight_form(w.dtype(), args.transpose_b), x.dtype());
  Shape out_shape = x.shape();
  out_shape[out_shape.size() - 1] = n;
  Tensor out = ctx.tensor(x.dtype(), out_shape);
  Operation op{x,
               w,
               out,
               fn,
               static_cast<uint32_t>(m),
               static_cast<uint32_t>(n),
               static_cast<uint32_t>(k),
               static_cast<float>(args.alpha)};
  return {std::move(op), out};
}

void MatmulQ8GemvOp::Operation::bind_kernel_args(ComputeKernelEncoder& e) const {
  const GemvParams params{m, n, k, alpha};
  e.buffer(0, weight).buffer(1, x).buffer(2, out).bytes(3, params);
}

void MatmulQ8GemvOp::Operation::encode(ComputeKernelEncoder& e) const {
  if (out.numel() == 0) return;
  const uint32_t row_blocks = (m + kRowsPerThread - 1) / kRowsPerThread;
  e.pipeline(function).bind_kernel(*this).dispatch_threads({n, row_blocks, 1}, {64, 1, 1});
}

METALLIC_REGISTER_OP(
    MatmulQ8GemvOp, "matmul_q8_gemv",
    "alpha * x @ W^T for a few rows of x (decode), W a GGUF q8_0/q4_0 or float [N, K] weight "
    "(x @ W for a float [K, N] weight with transpose_b=False); f32/f16 activations.",
    METALLIC_ARG(x, "activations [..., M, K]"),
    METALLIC_ARG(weight, "[N, K] (q8_0, q4_0 or x's dtype); [K, N] without transpose_b"),
    METALLIC_ARG(transpose_b, "weight is stored N x K"),
    METALLIC_ARG(alpha, "scale of the product"));

}  // namespace metallic
