// Rotary position embedding (metal/rope) on [batch, seq, heads, head_dim] ("bshd") or
// [batch, heads, seq, head_dim] ("bhsd") tensors: NeoX (half split) or GPT-J (interleaved)
// pairs, a start position or a positions tensor, partial rotary dims.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include "metallic/context.hpp"
#include "metallic/op_registry.hpp"

namespace metallic {

struct RopeOp {
  static constexpr const char* name = "rope";
  struct Args {
    Tensor x;                           // 4-d, see layout
    TensorOrScalar offset = 0.0;        // start position (an integer) or i32 positions [S] / [B, S]
    double theta = 10000.0;             // frequency base
    std::string style = "neox";         // "neox" (rotate halves) or "gptj" (interleaved pairs)
    std::optional<int64_t> rotary_dim;  // rotated leading dims of each head (None: head_dim)
    std::string layout = "bhsd";        // "bhsd" [B, H, S, D] or "bshd" [B, S, H, D]
  };
  struct Operation {
    Tensor x, positions, out;
    KernelFunction function;
    uint32_t slots, seq, batch;  // grid: rotation pairs + pass-through dims, tokens, batch
    uint32_t head_dim, rotary_dim, heads, seq_stride, head_stride, batch_stride;
    int32_t offset;
    uint32_t positions_batch_stride;
    float theta;
    void bind_kernel_args(ComputeKernelEncoder& e) const;
    void encode(ComputeKernelEncoder& e) const;
  };
  static std::pair<Operation, Tensor> create(Context& ctx, const Args& args);
};

}  // namespace metallic
