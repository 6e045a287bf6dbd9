// Unary elementwise ops (metal/unary): out = f(x) for neg, abs, exp, log, sqrt, rsqrt, tanh,
// sigmoid, sin, cos, square; f32, f16, bf16, computed in f32 and rounded once.
#pragma once

#include <utility>

#include "metallic/context.hpp"
#include "metallic/kernel_variants.hpp"

namespace metallic {

/// Shared by the unary ops; `Derived` supplies `name` and `kernels` (forms "v": contiguous x,
/// "g": any strided view).
template <class Derived>
struct UnaryOp {
  struct Args {
    Tensor x;
  };
  struct Operation {
    Tensor x, out;
    KernelFunction function;
    bool contiguous;    // the "v" form
    uint32_t n, inner;  // output elements; elements of a row of x's collapsed layout
    void bind_kernel_args(ComputeKernelEncoder& e) const;
    void encode(ComputeKernelEncoder& e) const;
  };
  static std::pair<Operation, Tensor> create(Context& ctx, const Args& args);
};

#define METALLIC_UNARY_OP(Type, label)         \
  struct Type : UnaryOp<Type> {                \
    static constexpr const char* name = label; \
    static const KernelVariants kernels;       \
  }
METALLIC_UNARY_OP(NegOp, "unary_neg");
METALLIC_UNARY_OP(AbsOp, "unary_abs");
METALLIC_UNARY_OP(ExpOp, "unary_exp");
METALLIC_UNARY_OP(LogOp, "unary_log");
METALLIC_UNARY_OP(SqrtOp, "unary_sqrt");
METALLIC_UNARY_OP(RsqrtOp, "unary_rsqrt");
METALLIC_UNARY_OP(TanhOp, "unary_tanh");
METALLIC_UNARY_OP(SigmoidOp, "unary_sigmoid");
METALLIC_UNARY_OP(SinOp, "unary_sin");
METALLIC_UNARY_OP(CosOp, "unary_cos");
METALLIC_UNARY_OP(SquareOp, "unary_square");
#undef METALLIC_UNARY_OP

}  // namespace metallic
