// Host side of metal/elemwise_<op> and metal/compare: validation, broadcasting, kernel choice.
#include "metallic/ops/binary_elemwise.hpp"

#include "broadcast_layout.hpp"
#include "metallic/error.hpp"

namespace metallic {

template <class Derived>
std::pair<typename BinaryElemwiseOp<Derived>::Operation, Tensor> BinaryElemwiseOp<Derived>::create(
    Context& ctx, const Args& args) {
  const char* name = Derived::name;
  const Tensor* a = tensor_of(args.a);
  const Tensor* b = tensor_of(args.b);
  if (!a && !b) {
    throw ArgumentError(std::string(name) + ": a and b are both scalars; pass at least one tensor");
  }
  if ((a && !a->defined()) || (b && !b->defined())) {
    throw ArgumentError(std::string(name) + ": undefined tensor");
  }
  if (a && b && a->dtype() != b->dtype()) {
    throw DTypeError(std::string(name) + ": dtypes differ (" + dtype_name(a->dtype()) + " and " +
                     dtype_name(b->dtype()) + "); convert one of them first (astype)");
  }
  const DType dtype = a ? a->dtype() : b->dtype();
  const Shape shape = broadcast_shape(name, {{"a", a}, {"b", b}});
  const bool same_shape =
      a && b && a->shape() == b->shape() && a->is_contiguous() && b->is_contiguous();
  const char* form = same_shape ? "vv" : !a ? "sg" : !b ? "gs" : "g";
  KernelFunction fn = Derived::kernels.get(form, dtype);
  // Scalars must be representable before anything is allocated.
  if (!a) scalar_bytes(name, "a", std::get<double>(args.a), dtype);
  if (!b) scalar_bytes(name, "b", std::get<double>(args.b), dtype);
  Tensor out = ctx.tensor(Derived::compares ? DType::U8 : dtype, shape);
  const auto n = static_cast<uint32_t>(out.numel());
  const uint32_t inner = same_shape ? n : broadcast_params(name, shape, {{"a", a}, {"b", b}}).inner;
  Operation op{args.a, args.b, out, fn, same_shape, n, inner};
  return {std::move(op), std::move(out)};
}

template <class Derived>
void BinaryElemwiseOp<Derived>::Operation::bind_kernel_args(ComputeKernelEncoder& e) const {
  const char* name = Derived::name;
  const Tensor* ta = tensor_of(a);
  const Tensor* tb = tensor_of(b);
  const DType dtype = ta ? ta->dtype() : tb->dtype();
  bind_operand(e, 0, name, "a", a, dtype);
  bind_operand(e, 1, name, "b", b, dtype);
  BroadcastParams params{};
  params.n = n;
  if (!same_shape) params = broadcast_params(name, out.shape(), {{"a", ta}, {"b", tb}});
  e.buffer(2, out).bytes(3, params);
}

template <class Derived>
void BinaryElemwiseOp<Derived>::Operation::encode(ComputeKernelEncoder& e) const {
  e.pipeline(function).bind_kernel(*this);
  if (same_shape) {
    e.dispatch_1d(n, 256);
  } else {
    dispatch_broadcast(e, n, inner);
  }
}

#define METALLIC_BINARY_KERNELS(Type, base)                          \
  const KernelVariants Type::kernels(base, {"vv", "g", "gs", "sg"}); \
  template struct BinaryElemwiseOp<Type>
METALLIC_BINARY_KERNELS(ElemwiseAddOp, "elemwise_add");
METALLIC_BINARY_KERNELS(ElemwiseSubOp, "elemwise_sub");
METALLIC_BINARY_KERNELS(ElemwiseMulOp, "elemwise_mul");
METALLIC_BINARY_KERNELS(ElemwiseDivOp, "elemwise_div");
METALLIC_BINARY_KERNELS(ElemwiseMaximumOp, "elemwise_maximum");
METALLIC_BINARY_KERNELS(ElemwiseMinimumOp, "elemwise_minimum");
METALLIC_BINARY_KERNELS(ElemwisePowOp, "elemwise_pow");
METALLIC_BINARY_KERNELS(EqualOp, "compare_equal");
METALLIC_BINARY_KERNELS(NotEqualOp, "compare_not_equal");
METALLIC_BINARY_KERNELS(LessOp, "compare_less");
METALLIC_BINARY_KERNELS(LessEqualOp, "compare_less_equal");
METALLIC_BINARY_KERNELS(GreaterOp, "compare_greater");
METALLIC_BINARY_KERNELS(GreaterEqualOp, "compare_greater_equal");
#undef METALLIC_BINARY_KERNELS

#define METALLIC_BINARY_REGISTER(Type, py_name, doc)                                      \
  METALLIC_REGISTER_OP(Type, py_name, doc " Numpy broadcasting; a or b may be a scalar.", \
                       METALLIC_ARG(a, "left operand"), METALLIC_ARG(b, "right operand"))
METALLIC_BINARY_REGISTER(ElemwiseAddOp, "add", "a + b.");
METALLIC_BINARY_REGISTER(ElemwiseSubOp, "sub", "a - b.");
METALLIC_BINARY_REGISTER(ElemwiseMulOp, "mul", "a * b.");
METALLIC_BINARY_REGISTER(ElemwiseDivOp, "div", "a / b (float dtypes).");
METALLIC_BINARY_REGISTER(ElemwiseMaximumOp, "maximum", "The larger of a and b (NaN if either is).");
METALLIC_BINARY_REGISTER(ElemwiseMinimumOp, "minimum",
                         "The smaller of a and b (NaN if either is).");
METALLIC_BINARY_REGISTER(ElemwisePowOp, "pow", "a ** b, computed in f32 (float dtypes).");
METALLIC_BINARY_REGISTER(EqualOp, "equal", "a == b as u8 (1 or 0).");
METALLIC_BINARY_REGISTER(NotEqualOp, "not_equal", "a != b as u8 (1 or 0).");
METALLIC_BINARY_REGISTER(LessOp, "less", "a < b as u8 (1 or 0).");
METALLIC_BINARY_REGISTER(LessEqualOp, "less_equal", "a <= b as u8 (1 or 0).");
METALLIC_BINARY_REGISTER(GreaterOp, "greater", "a > b as u8 (1 or 0).");
METALLIC_BINARY_REGISTER(GreaterEqualOp, "greater_equal", "a >= b as u8 (1 or 0).");

}  // namespace metallic
