// quantize: float [..., K] -> GGUF Q8_0 / Q4_0 blocks along the last axis (K a multiple of 32),
// rounded as ggml's reference quantizers. Kernels: metal/quantize.
#pragma once

#include <string>
#include <utility>

#include "metallic/context.hpp"

namespace metallic {

struct QuantizeOp {
  static constexpr const char* name = "quantize";
  struct Args {
    Tensor x;                    // [..., K] f32/f16/bf16
    std::string dtype = "q8_0";  // "q8_0" or "q4_0"
  };
  struct Operation {
    Tensor x, out;
    KernelFunction function;
    uint32_t blocks;
    void bind_kernel_args(ComputeKernelEncoder& e) const;
    void encode(ComputeKernelEncoder& e) const;
  };
  static std::pair<Operation, Tensor> create(Context& ctx, const Args& args);
};

}  // namespace metallic
