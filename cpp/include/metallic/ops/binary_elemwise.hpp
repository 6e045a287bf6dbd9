// Binary elementwise ops (metal/elemwise_{add,sub,mul,div}): out = a <op> b, where b has a's
// shape or is broadcast over a's leading dimensions (b's shape is a suffix of a's).
#pragma once

#include <utility>

#include "metallic/context.hpp"
#include "metallic/kernel_variants.hpp"

namespace metallic {

/// Shared by the four ops; `Derived` supplies `name` and `kernels` (forms "vv": same shape, "vb":
/// b broadcast over a's leading dimensions).
template <class Derived>
struct BinaryElemwiseOp {
  struct Args {
    Tensor a;
    Tensor b;
  };
  struct Operation {
    Tensor a, b, out;
    KernelFunction function;
    uint32_t n, b_n;
    void bind_kernel_args(ComputeKernelEncoder& e) const;
    void encode(ComputeKernelEncoder& e) const;
  };
  static std::pair<Operation, Tensor> create(Context& ctx, const Args& args);
};

struct ElemwiseAddOp : BinaryElemwiseOp<ElemwiseAddOp> {
  static constexpr const char* name = "elemwise_add";
  static const KernelVariants kernels;
};
struct ElemwiseSubOp : BinaryElemwiseOp<ElemwiseSubOp> {
  static constexpr const char* name = "elemwise_sub";
  static const KernelVariants kernels;
};
struct ElemwiseMulOp : BinaryElemwiseOp<ElemwiseMulOp> {
  static constexpr const char* name = "elemwise_mul";
  static const KernelVariants kernels;
};
struct ElemwiseDivOp : BinaryElemwiseOp<ElemwiseDivOp> {
  static constexpr const char* name = "elemwise_div";
  static const KernelVariants kernels;
};

}  // namespace metallic
