// Host side of metal/where: validation, broadcasting, kernel choice.
#include "metallic/ops/where.hpp"

#include "broadcast_layout.hpp"
#include "metallic/error.hpp"
#include "metallic/kernel_variants.hpp"

namespace metallic {

namespace {
const KernelVariants kernels("where", {"g", "gs", "sg"});
}  // namespace

std::pair<WhereOp::Operation, Tensor> WhereOp::create(Context& ctx, const Args& args) {
  const Tensor& c = args.condition;
  const Tensor* x = tensor_of(args.x);
  const Tensor* y = tensor_of(args.y);
  if (!c.defined() || (x && !x->defined()) || (y && !y->defined())) {
    throw ArgumentError("where: undefined tensor");
  }
  if (c.dtype() != DType::U8) {
    throw DTypeError(std::string("where: condition must be u8 (nonzero selects x), got ") +
                     dtype_name(c.dtype()) + "; comparisons such as mt.ops.greater return u8");
  }
  if (!x && !y) {
    throw ArgumentError("where: x and y are both scalars; pass at least one tensor");
  }
  if (x && y && x->dtype() != y->dtype()) {
    throw DTypeError(std::string("where: dtypes of x and y differ (") + dtype_name(x->dtype()) +
                     " and " + dtype_name(y->dtype()) + "); convert one of them first (astype)");
  }
  const DType dtype = x ? x->dtype() : y->dtype();
  const Shape shape = broadcast_shape(name, {{"condition", &c}, {"x", x}, {"y", y}});
  KernelFunction fn = kernels.get(!x ? "sg" : !y ? "gs" : "g", dtype);
  if (!x) scalar_bytes(name, "x", std::get<double>(args.x), dtype);
  if (!y) scalar_bytes(name, "y", std::get<double>(args.y), dtype);
  const BroadcastParams p = broadcast_params(name, shape, {{"condition", &c}, {"x", x}, {"y", y}});
  Tensor out = ctx.tensor(dtype, shape);
  Operation op{c, args.x, args.y, out, fn, p.n, p.inner};
  return {std::move(op), std::move(out)};
}

void WhereOp::Operation::bind_kernel_args(ComputeKernelEncoder& e) const {
  const Tensor* tx = tensor_of(x);
  const Tensor* ty = tensor_of(y);
  const DType dtype = out.dtype();
  bind_operand(e, 0, name, "condition", condition, DType::U8);
  bind_operand(e, 1, name, "x", x, dtype);
  bind_operand(e, 2, name, "y", y, dtype);
  e.buffer(3, out).bytes(
      4, broadcast_params(name, out.shape(), {{"condition", &condition}, {"x", tx}, {"y", ty}}));
}

void WhereOp::Operation::encode(ComputeKernelEncoder& e) const {
  e.pipeline(function).bind_kernel(*this);
  dispatch_broadcast(e, n, inner);
}

METALLIC_REGISTER_OP(WhereOp, "where",
                     "condition != 0 ? x : y elementwise, numpy-broadcast; x or y may be a scalar.",
                     METALLIC_ARG(condition, "u8 mask (nonzero selects x)"),
                     METALLIC_ARG(x, "values where the condition holds"),
                     METALLIC_ARG(y, "values elsewhere"));

}  // namespace metallic
