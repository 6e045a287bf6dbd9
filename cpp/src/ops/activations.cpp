// Host side of metal/activations: validation, kernel choice, binding.
#include "metallic/ops/activations.hpp"

#include "float_input.hpp"
#include "metallic/error.hpp"
#include "metallic/op_registry.hpp"

namespace metallic {

namespace {
using uint = uint32_t;
#include "activations/params.h"

const KernelVariants silu_kernels("silu", {""});
const KernelVariants gelu_kernels("gelu", {"erf", "tanh"});
const KernelVariants swiglu_kernels("swiglu", {""});

/// One output per element of x.
std::pair<ActivationOperation, Tensor> unary(Context& ctx, const Tensor& x, KernelFunction fn) {
  Tensor out = ctx.tensor(x.dtype(), x.shape());
  const auto n = static_cast<uint32_t>(x.numel());
  ActivationOperation operation{x, x, out, fn, n, 0, 0, vec4_aligned(x) ? 1u : 0u, 2};
  return {std::move(operation), std::move(out)};
}
}  // namespace

void ActivationOperation::bind_kernel_args(ComputeKernelEncoder& e) const {
  const ActivationParams params{n, width, fused, vec4};
  e.buffer(0, a);
  if (buffers == 3) e.buffer(1, b);
  e.buffer(buffers - 1, out).bytes(buffers, params);
}

void ActivationOperation::encode(ComputeKernelEncoder& e) const {
  if (n == 0) return;
  e.pipeline(function).bind_kernel(*this).dispatch_1d((n + 3) / 4, 256);
}

std::pair<SiluOp::Operation, Tensor> SiluOp::create(Context& ctx, const Args& args) {
  check_float_input(name, "x", args.x);
  return unary(ctx, args.x, silu_kernels.get("", args.x.dtype()));
}

std::pair<GeluOp::Operation, Tensor> GeluOp::create(Context& ctx, const Args& args) {
  check_float_input(name, "x", args.x);
  const char* form = args.approximate == "tanh" ? "tanh" : "erf";
  return unary(ctx, args.x, gelu_kernels.get(form, args.x.dtype()));
}

std::pair<SwigluOp::Operation, Tensor> SwigluOp::create(Context& ctx, const Args& args) {
  const Tensor& gate = args.gate;
  check_float_input(name, "gate", gate);
  if (gate.ndim() == 0) throw ShapeError("swiglu: gate must have at least one dimension");
  Shape out_shape = gate.shape();
  const bool fused = !args.up.has_value();
  bool vec4 = vec4_aligned(gate);
  if (fused) {
    if (gate.dim(-1) % 2 != 0) {
      throw ShapeError(
          "swiglu: without up, gate's last dimension holds [gate | up] and must be "
          "even, got " +
          shape_str(gate.shape()));
    }
    out_shape[out_shape.size() - 1] /= 2;
    vec4 = vec4 && out_shape.back() % 4 == 0;
  } else {
    const Tensor& up = *args.up;
    check_float_input(name, "up", up);
    check_same_dtype(name, "up", up, gate);
    if (up.shape() != gate.shape()) {
      throw ShapeError("swiglu: up's shape " + shape_str(up.shape()) + " must equal gate's " +
                       shape_str(gate.shape()));
    }
    vec4 = vec4 && vec4_aligned(up);
  }
  Tensor out = ctx.tensor(gate.dtype(), out_shape);
  const auto n = static_cast<uint32_t>(out.numel());
  const auto width = static_cast<uint32_t>(out_shape.back());
  ActivationOperation op{gate,
                         fused ? gate : *args.up,
                         out,
                         swiglu_kernels.get("", gate.dtype()),
                         n,
                         width,
                         fused ? 1u : 0u,
                         vec4 ? 1u : 0u,
                         3};
  return {std::move(op), std::move(out)};
}

METALLIC_REGISTER_OP(SiluOp, "silu", "x * sigmoid(x), elementwise.", METALLIC_ARG(x, "input"));
METALLIC_REGISTER_OP(GeluOp, "gelu",
                     "x * Phi(x), elementwise: exact (erf) or the tanh approximation, as "
                     "torch.nn.functional.gelu.",
                     METALLIC_ARG(x, "input"),
                     METALLIC_ARG(approximate, "'none': exact erf; 'tanh': the tanh approximation")
                         .choices({"none", "tanh"}));
METALLIC_REGISTER_OP(SwigluOp, "swiglu",
                     "silu(gate) * up; without up, gate is [..., 2F] = [gate | up] (gate the first "
                     "half of the last axis) and the result is [..., F].",
                     METALLIC_ARG(gate, "[..., F], or [..., 2F] holding [gate | up]"),
                     METALLIC_ARG(up, "[..., F] like gate, or None for the fused layout"));

}  // namespace metallic
