// Host side of the device-library matmul: validation, output allocation, the MatmulCommand.
#include "metallic/ops/mps_matmul.hpp"

#include <limits>

#include "metallic/error.hpp"
#include "metallic/op_registry.hpp"
#include "metallic/ops/matmul.hpp"

namespace metallic {

std::pair<MpsMatmulOp::Operation, Tensor> MpsMatmulOp::create(Context& ctx, const Args& args) {
  const Tensor& a = args.a;
  const Tensor& b = args.b;
  if (!a.defined() || !b.defined()) throw ArgumentError("mps_matmul: undefined tensor");
  if (a.dtype() != b.dtype()) {
    throw DTypeError(std::string("mps_matmul: dtypes differ (") + dtype_name(a.dtype()) + " and " +
                     dtype_name(b.dtype()) + ")");
  }
  if (a.dtype() != DType::F32 && a.dtype() != DType::F16) {
    throw DTypeError(std::string("mps_matmul: supports f32 and f16, got ") + dtype_name(a.dtype()));
  }
  const auto [m, n, k] = matmul_dims("mps_matmul", a, b, args.transpose_a, args.transpose_b);
  const Shape batch_shape(a.shape().begin(), a.shape().end() - 2);
  const Shape b_batch(b.shape().begin(), b.shape().end() - 2);
  if (b.ndim() > 2 && b_batch != batch_shape) {
    throw ShapeError("mps_matmul: b's batch dimensions " + shape_str(b_batch) + " must equal a's " +
                     shape_str(batch_shape) + " (or b must be 2-d)");
  }
  int64_t batch = 1;
  for (int64_t d : batch_shape) batch *= d;
  const int64_t limit = std::numeric_limits<uint32_t>::max();
  if (m > limit || n > limit || k > limit || batch > limit) {
    throw ShapeError("mps_matmul: dimensions must be below 2^32");
  }
  Shape out_shape = batch_shape;
  out_shape.push_back(m);
  out_shape.push_back(n);
  Tensor out = ctx.tensor(a.dtype(), out_shape);
  if (k == 0 && out.numel() > 0) {
    throw ShapeError("mps_matmul: K is 0 (the product of empty matrices is not supported)");
  }

  Operation op{a, b, out,
               matmul_command({m, n, k}, args.transpose_a, args.transpose_b, args.alpha, 0.0,
                              a.dtype(), batch, b.ndim() > 2)};
  return {std::move(op), out};
}

void MpsMatmulOp::Operation::encode(ComputeKernelEncoder& e) const {
  if (out.numel() == 0) return;
  e.matmul(command, a, b, out);
}

METALLIC_REGISTER_OP(
    MpsMatmulOp, "mps_matmul",
    "alpha * a @ b by the device's library (MPSMatrixMultiplication on Metal); a is [..., M, K], "
    "b is [K, N] or [..., K, N]; f32 or f16.",
    METALLIC_ARG(a, "[..., M, K] ([..., K, M] with transpose_a)"),
    METALLIC_ARG(b, "[K, N] or [..., K, N] ([..., N, K] with transpose_b)"),
    METALLIC_ARG(transpose_a, "a is stored transposed"),
    METALLIC_ARG(transpose_b, "b is stored transposed"),
    METALLIC_ARG(alpha, "scale of the product"));

}  // namespace metallic
