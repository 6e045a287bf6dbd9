// GEMV for a few activation rows (decode): out = alpha * x @ op(W) with W a GGUF Q8_0 / Q4_0
// weight (N x K) or a dense float weight (N x K, or K x N without transpose_b). Kernels:
// metal/matmul_q8_gemv (metal/common/gemv_core.metal + kernel_body.metal).
#pragma once

#include <utility>

#include "metallic/context.hpp"

namespace metallic {

struct MatmulQ8GemvOp {
  static constexpr const char* name = "matmul_q8_gemv";
  struct Args {
    Tensor x;                 // [..., M, K] f32/f16 (bf16 with a dense bf16 weight)
    Tensor weight;            // [N, K] q8_0/q4_0/float ([K, N] float without transpose_b)
    bool transpose_b = true;  // weight is stored N x K (as nn.Linear and GGUF store it)
    double alpha = 1.0;
  };
  struct Operation {
    Tensor x, weight, out;
    KernelFunction function;
    uint32_t m, n, k;
    float alpha;
    void bind_kernel_args(ComputeKernelEncoder& e) const;
    void encode(ComputeKernelEncoder& e) const;
  };
  static std::pair<Operation, Tensor> create(Context& ctx, const Args& args);
};

}  // namespace metallic
