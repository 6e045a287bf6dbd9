// Gather (metal/gather): take(x, indices, axis) as numpy's take, and embedding(table, ids), its
// row-gather form. Indices are i32 (negative ones count from the end) or u32. An index out of
// range is an error on the host device with checks (METALLIC_HOST_CHECKS=1); otherwise the rows
// it selects hold unspecified values.
#pragma once

#include <cstdint>
#include <utility>

#include "metallic/context.hpp"

namespace metallic {

struct TakeOp {
  static constexpr const char* name = "gather";
  struct Args {
    Tensor x;        // contiguous
    Tensor indices;  // i32 or u32, any shape
    int64_t axis = 0;
  };
  struct Operation {
    Tensor x, indices, out;
    KernelFunction function;
    bool rows16;  // rows copied as 16-byte vectors (inner, in elements, is still the row length)
    uint32_t rows16_threads;  // rows16: threads per row (see TakeOp::create)
    uint32_t outer, n, inner, count;
    void bind_kernel_args(ComputeKernelEncoder& e) const;
    void encode(ComputeKernelEncoder& e) const;
  };
  static std::pair<Operation, Tensor> create(Context& ctx, const Args& args);
};

struct EmbeddingOp {
  static constexpr const char* name = "embedding";
  struct Args {
    Tensor table;  // [vocab, dim], contiguous
    Tensor ids;    // i32 or u32, any shape
  };
  using Operation = TakeOp::Operation;
  static std::pair<Operation, Tensor> create(Context& ctx, const Args& args);
};

}  // namespace metallic
