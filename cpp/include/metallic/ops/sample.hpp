// Token sampling on the device (metal/sample): greedy argmax, or top-k, then top-p, then a draw
// from the temperature-scaled softmax with a counter-based generator keyed by seed and step.
#pragma once

#include <cstdint>
#include <utility>

#include "metallic/context.hpp"

namespace metallic {

namespace kernel_params {
using uint = uint32_t;
#include "sample/params.h"
}  // namespace kernel_params

struct SampleOp {
  static constexpr const char* name = "sample";
  struct Args {
    Tensor logits;             // [..., vocab]
    double temperature = 1.0;  // 0: greedy (argmax)
    int64_t top_k = 0;         // 0: off
    double top_p = 1.0;        // 1: off
    int64_t seed = 0;
    int64_t step = 0;  // e.g. the generation step, so each step draws a fresh number
  };
  struct Operation {
    Tensor logits, out;
    KernelFunction function;
    kernel_params::SampleParams params;
    uint32_t rows;
    void encode(ComputeKernelEncoder& e) const;
  };
  /// Returns i32 token ids of shape logits.shape[:-1].
  static std::pair<Operation, Tensor> create(Context& ctx, const Args& args);
};

}  // namespace metallic
