// Binary elementwise ops (metal/elemwise_{add,sub,mul,div}): out = a <op> b, where b has a's
// shape or is broadcast over a's leading dimensions (b's shape is a suffix of a's).
#pragma once

#include <utility>

#include "metallic/context.hpp"

namespace metallic {

/// The kernels of one binary op: same-shape (vv) and broadcast (vb), per dtype.
struct BinaryKernels {
  KernelFunction vv_f32, vv_f16, vv_bf16, vb_f32, vb_f16, vb_bf16;

  /// The kernel for `dtype` (F32, F16 or BF16) and form.
  KernelFunction pick(DType dtype, bool broadcast) const;
};

/// Shared by the four ops; `Derived` supplies `name` and `kernels`.
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
  static const BinaryKernels kernels;
};
struct ElemwiseSubOp : BinaryElemwiseOp<ElemwiseSubOp> {
  static constexpr const char* name = "elemwise_sub";
  static const BinaryKernels kernels;
};
struct ElemwiseMulOp : BinaryElemwiseOp<ElemwiseMulOp> {
  static constexpr const char* name = "elemwise_mul";
  static const BinaryKernels kernels;
};
struct ElemwiseDivOp : BinaryElemwiseOp<ElemwiseDivOp> {
  static constexpr const char* name = "elemwise_div";
  static const BinaryKernels kernels;
};

}  // namespace metallic
