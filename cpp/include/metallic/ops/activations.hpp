// Activations (metal/activations): silu, gelu (exact erf or the tanh approximation) and the fused
// swiglu silu(gate) * up, for separate gate/up tensors or one [..., 2F] tensor holding [gate | up].
#pragma once

#include <optional>
#include <string>
#include <utility>

#include "metallic/context.hpp"
#include "metallic/kernel_variants.hpp"

namespace metallic {

/// What the activation ops encode: one elementwise dispatch over `n` outputs.
struct ActivationOperation {
  Tensor a, b, out;  // b: swiglu's `up` (a again when fused or unary)
  KernelFunction function;
  uint32_t n, width, fused, vec4;
  unsigned buffers;  // 2 (x, out) or 3 (gate, up, out)
  void bind_kernel_args(ComputeKernelEncoder& e) const;
  void encode(ComputeKernelEncoder& e) const;
};

struct SiluOp {
  static constexpr const char* name = "silu";
  struct Args {
    Tensor x;
  };
  using Operation = ActivationOperation;
  static std::pair<Operation, Tensor> create(Context& ctx, const Args& args);
};

struct GeluOp {
  static constexpr const char* name = "gelu";
  struct Args {
    Tensor x;
    std::string approximate = "none";  // "none" (exact erf) or "tanh"
  };
  using Operation = ActivationOperation;
  static std::pair<Operation, Tensor> create(Context& ctx, const Args& args);
};

struct SwigluOp {
  static constexpr const char* name = "swiglu";
  struct Args {
    Tensor gate;               // [..., F], or [..., 2F] = [gate | up] when up is absent
    std::optional<Tensor> up;  // [..., F], the shape of gate
  };
  using Operation = ActivationOperation;
  static std::pair<Operation, Tensor> create(Context& ctx, const Args& args);
};

}  // namespace metallic
