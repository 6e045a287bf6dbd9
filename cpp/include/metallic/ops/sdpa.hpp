// Scaled dot-product attention (metal/sdpa): softmax(q kᵀ · scale + mask) v on [batch, heads,
// seq, head_dim] tensors, with grouped-query attention, a causal mask aligned bottom-right and an
// additive mask. SdpaDispatchOp picks a backend from the KernelBackendRegistry ("sdpa": legacy,
// the MSL flash-attention kernel; row, one thread per query row on the host device; mpsgraph,
// the sdpa graph kernel, docs/graph-kernels.md).
#pragma once

#include <optional>
#include <utility>

#include "metallic/context.hpp"
#include "metallic/graph_kernel.hpp"
#include "metallic/kernel_variants.hpp"

namespace metallic {

namespace kernel_params {
using uint = uint32_t;
#include "sdpa/params.h"
}  // namespace kernel_params

struct SdpaDispatchOp {
  static constexpr const char* name = "sdpa";
  struct Args {
    Tensor q;                     // [batch, q_heads, q_len, head_dim]
    Tensor k;                     // [batch, kv_heads, kv_len, head_dim]; q_heads % kv_heads == 0
    Tensor v;                     // like k
    std::optional<Tensor> mask;   // additive, broadcast to [batch, q_heads, q_len, kv_len]
    bool causal = false;          // key j visible to query i when j <= i + kv_len - q_len
    std::optional<double> scale;  // default 1 / sqrt(head_dim)
  };
  struct Operation {
    Tensor q, k, v, mask, out, part_acc, part_stats;
    kernel_params::SdpaParams params;
    KernelFunction attend, combine;
    uint32_t row_blocks;
    bool by_row = false;                   // the "row" backend: one thread per query row
    std::optional<GraphKernelCall> graph;  // the "mpsgraph" backend: the rest is unused
    void encode(ComputeKernelEncoder& e) const;
  };
  /// Returns the attention output [batch, q_heads, q_len, head_dim] in q's dtype.
  static std::pair<Operation, Tensor> create(Context& ctx, const Args& args);
};

/// mt.ops.sdpa: the same op under its short name.
struct SdpaOp : SdpaDispatchOp {};

}  // namespace metallic
