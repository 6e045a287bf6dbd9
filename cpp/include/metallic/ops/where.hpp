// where (metal/where): out = mask != 0 ? x : y with numpy broadcasting over the three operands;
// x or y may be a scalar.
#pragma once

#include <utility>

#include "metallic/context.hpp"
#include "metallic/op_registry.hpp"

namespace metallic {

struct WhereOp {
  static constexpr const char* name = "where";
  struct Args {
    Tensor condition;  // u8: nonzero selects x
    TensorOrScalar x;
    TensorOrScalar y;
  };
  struct Operation {
    Tensor condition;
    TensorOrScalar x, y;
    Tensor out;
    KernelFunction function;
    uint32_t n, inner;  // output elements; elements of a row of the collapsed output
    void bind_kernel_args(ComputeKernelEncoder& e) const;
    void encode(ComputeKernelEncoder& e) const;
  };
  static std::pair<Operation, Tensor> create(Context& ctx, const Args& args);
};

}  // namespace metallic
