// Softmax over the last axis (metal/softmax) of scale * x, with an optional causal mask (aligned
// bottom-right when queries < keys) and an additive mask added after scaling. Backends,
// chosen through the KernelBackendRegistry: `vec` (one SIMD group per row, rows up to 1024),
// `block` (one threadgroup per row, online max/sum, any length) and, on the host device only,
// `row` (one thread per row, no SIMD-group reductions); `mpsgraph` runs the softmax graph kernel.
#pragma once

#include <optional>
#include <string>
#include <utility>

#include "metallic/context.hpp"
#include "metallic/graph_kernel.hpp"
#include "metallic/kernel_variants.hpp"

namespace metallic {

struct SoftmaxOp {
  static constexpr const char* name = "softmax";
  /// The longest row the vec backend holds in one SIMD group's registers.
  static constexpr int64_t kVecMaxRow = 1024;
  struct Args {
    Tensor x;  // [..., Lk] ([..., Lq, Lk] with causal)
    double scale = 1.0;
    bool causal = false;
    std::optional<Tensor> mask;  // additive, broadcastable to x, x's dtype
  };
  struct Operation {
    Tensor x, mask, out;
    KernelFunction function;
    std::string backend;                   // "vec", "block", "row" or "mpsgraph"
    std::optional<GraphKernelCall> graph;  // mpsgraph: the rest is unused
    bool causal = false;
    uint32_t rows, n, lq, vec4, threads, rows_per_group;
    uint32_t lead[3], mask_stride[3];
    float scale;
    void bind_kernel_args(ComputeKernelEncoder& e) const;
    void encode(ComputeKernelEncoder& e) const;
  };
  static std::pair<Operation, Tensor> create(Context& ctx, const Args& args);
};

}  // namespace metallic
