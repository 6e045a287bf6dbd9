// Host side of metal/unary: validation, layout, kernel choice.
#include "metallic/ops/unary.hpp"

#include "broadcast_layout.hpp"
#include "metallic/error.hpp"

namespace metallic {

template <class Derived>
std::pair<typename UnaryOp<Derived>::Operation, Tensor> UnaryOp<Derived>::create(Context& ctx,
                                                                                 const Args& args) {
  const Tensor& x = args.x;
  if (!x.defined()) throw ArgumentError(std::string(Derived::name) + ": undefined tensor");
  const bool contiguous = x.is_contiguous();
  KernelFunction fn = Derived::kernels.get(contiguous ? "v" : "g", x.dtype());
  const BroadcastParams p = broadcast_params(Derived::name, x.shape(), {{"x", &x}});
  Tensor out = ctx.tensor(x.dtype(), x.shape());
  Operation op{x, out, fn, contiguous, p.n, p.inner};
  return {std::move(op), std::move(out)};
}

template <class Derived>
void UnaryOp<Derived>::Operation::bind_kernel_args(ComputeKernelEncoder& e) const {
  BroadcastParams p{};
  p.n = n;
  if (!contiguous) p = broadcast_params(Derived::name, x.shape(), {{"x", &x}});
  bind_operand(e, 0, Derived::name, "x", x, x.dtype());
  e.buffer(1, out).bytes(2, p);
}

template <class Derived>
void UnaryOp<Derived>::Operation::encode(ComputeKernelEncoder& e) const {
  e.pipeline(function).bind_kernel(*this);
  if (contiguous) {
    e.dispatch_1d(n, 256);
  } else {
    dispatch_broadcast(e, n, inner);
  }
}

#define METALLIC_UNARY_REGISTER(Type, base, py_name, doc)                    \
  const KernelVariants Type::kernels(base, {"v", "g"});                      \
  template struct UnaryOp<Type>;                                             \
  METALLIC_REGISTER_OP(Type, py_name, doc " f32/f16/bf16, computed in f32.", \
                       METALLIC_ARG(x, "input (any layout)"))
METALLIC_UNARY_REGISTER(NegOp, "unary_neg", "neg", "-x elementwise.");
METALLIC_UNARY_REGISTER(AbsOp, "unary_abs", "abs", "|x| elementwise.");
METALLIC_UNARY_REGISTER(ExpOp, "unary_exp", "exp", "e**x elementwise.");
METALLIC_UNARY_REGISTER(LogOp, "unary_log", "log", "Natural logarithm elementwise.");
METALLIC_UNARY_REGISTER(SqrtOp, "unary_sqrt", "sqrt", "Square root elementwise.");
METALLIC_UNARY_REGISTER(RsqrtOp, "unary_rsqrt", "rsqrt", "1 / sqrt(x) elementwise.");
METALLIC_UNARY_REGISTER(TanhOp, "unary_tanh", "tanh", "Hyperbolic tangent elementwise.");
METALLIC_UNARY_REGISTER(SigmoidOp, "unary_sigmoid", "sigmoid", "1 / (1 + exp(-x)) elementwise.");
METALLIC_UNARY_REGISTER(SinOp, "unary_sin", "sin", "Sine elementwise.");
METALLIC_UNARY_REGISTER(CosOp, "unary_cos", "cos", "Cosine elementwise.");
METALLIC_UNARY_REGISTER(SquareOp, "unary_square", "square", "x * x elementwise.");
#undef METALLIC_UNARY_REGISTER

}  // namespace metallic
