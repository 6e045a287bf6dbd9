// Binary elementwise ops with numpy broadcasting (metal/elemwise_<op>, metal/compare): out = a <op>
// b for add, sub, mul, div, maximum, minimum, pow, and the comparisons (u8 results). Either
// operand may be a scalar (passed to the kernel as a value, no tensor is made for it).
#pragma once

#include <utility>

#include "metallic/context.hpp"
#include "metallic/kernel_variants.hpp"
#include "metallic/op_registry.hpp"

namespace metallic {

/// Shared by the binary ops; `Derived` supplies `name`, `kernels` (forms "vv": same-shape
/// contiguous tensors, "g": two tensors of any broadcastable layout, "gs"/"sg": b/a a scalar) and
/// `compares` (true: the result is u8 0/1).
template <class Derived>
struct BinaryElemwiseOp {
  struct Args {
    TensorOrScalar a;
    TensorOrScalar b;
  };
  struct Operation {
    TensorOrScalar a, b;
    Tensor out;
    KernelFunction function;
    bool same_shape;    // the "vv" form: one thread per element
    uint32_t n, inner;  // output elements; elements of a row of the collapsed output
    void bind_kernel_args(ComputeKernelEncoder& e) const;
    void encode(ComputeKernelEncoder& e) const;
  };
  static std::pair<Operation, Tensor> create(Context& ctx, const Args& args);
};

#define METALLIC_BINARY_OP(Type, label, is_compare) \
  struct Type : BinaryElemwiseOp<Type> {            \
    static constexpr const char* name = label;      \
    static constexpr bool compares = is_compare;    \
    static const KernelVariants kernels;            \
  }
METALLIC_BINARY_OP(ElemwiseAddOp, "elemwise_add", false);
METALLIC_BINARY_OP(ElemwiseSubOp, "elemwise_sub", false);
METALLIC_BINARY_OP(ElemwiseMulOp, "elemwise_mul", false);
METALLIC_BINARY_OP(ElemwiseDivOp, "elemwise_div", false);
METALLIC_BINARY_OP(ElemwiseMaximumOp, "elemwise_maximum", false);
METALLIC_BINARY_OP(ElemwiseMinimumOp, "elemwise_minimum", false);
METALLIC_BINARY_OP(ElemwisePowOp, "elemwise_pow", false);
METALLIC_BINARY_OP(EqualOp, "compare_equal", true);
METALLIC_BINARY_OP(NotEqualOp, "compare_not_equal", true);
METALLIC_BINARY_OP(LessOp, "compare_less", true);
METALLIC_BINARY_OP(LessEqualOp, "compare_less_equal", true);
METALLIC_BINARY_OP(GreaterOp, "compare_greater", true);
METALLIC_BINARY_OP(GreaterEqualOp, "compare_greater_equal", true);
#undef METALLIC_BINARY_OP

}  // namespace metallic
