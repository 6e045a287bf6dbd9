// Row norms over the last axis (metal/norms): rms_norm and layer_norm, and their fused forms with
// a residual add (add_rms_norm, add_layer_norm) that also return x + residual, the residual
// stream a transformer block carries to its next layer. Backends (KernelBackendRegistry, ops
// "rms_norm" and "layer_norm"): `threadgroup` (a threadgroup per row) and, on the host device,
// `row` (a thread per row).
#pragma once

#include <utility>
#include <vector>

#include "metallic/context.hpp"
#include "metallic/kernel_variants.hpp"

namespace metallic {

/// What the norm ops encode: one threadgroup per row.
struct NormOperation {
  Tensor x, residual, weight, bias, out, sum;  // residual/bias/sum undefined when unused
  KernelFunction function;
  uint32_t rows, n, vec4, threads, rows_per_group;
  bool thread_per_row;  // the `row` backend
  float eps;
  void bind_kernel_args(ComputeKernelEncoder& e) const;
  void encode(ComputeKernelEncoder& e) const;
};

struct RmsNormOp {
  static constexpr const char* name = "rms_norm";
  struct Args {
    Tensor x;       // [..., N]
    Tensor weight;  // [N]
    double eps = 1e-6;
  };
  using Operation = NormOperation;
  static std::pair<Operation, Tensor> create(Context& ctx, const Args& args);
};

struct AddRmsNormOp {
  static constexpr const char* name = "add_rms_norm";
  struct Args {
    Tensor x;         // [..., N]
    Tensor residual;  // like x
    Tensor weight;    // [N]
    double eps = 1e-6;
  };
  using Operation = NormOperation;
  /// Outputs: {rms_norm(x + residual), x + residual}.
  static std::pair<Operation, std::vector<Tensor>> create(Context& ctx, const Args& args);
};

struct LayerNormOp {
  static constexpr const char* name = "layer_norm";
  struct Args {
    Tensor x;       // [..., N]
    Tensor weight;  // [N]
    Tensor bias;    // [N]
    double eps = 1e-5;
  };
  using Operation = NormOperation;
  static std::pair<Operation, Tensor> create(Context& ctx, const Args& args);
};

struct AddLayerNormOp {
  static constexpr const char* name = "add_layer_norm";
  struct Args {
    Tensor x;         // [..., N]
    Tensor residual;  // like x
    Tensor weight;    // [N]
    Tensor bias;      // [N]
    double eps = 1e-5;
  };
  using Operation = NormOperation;
  /// Outputs: {layer_norm(x + residual), x + residual}.
  static std::pair<Operation, std::vector<Tensor>> create(Context& ctx, const Args& args);
};

}  // namespace metallic
