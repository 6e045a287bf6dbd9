// Reductions (metal/reduce): sum, mean, max, min over one or more axes (all by default) and
// argmax, argmin over one axis (the flattened tensor by default), with numpy's keepdims. f16 and
// bf16 accumulate in f32; max/min/argmax/argmin also take i32 and u32; arg results are i32.
#pragma once

#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include "metallic/context.hpp"
#include "metallic/kernel_variants.hpp"

namespace metallic {

/// How one reduction runs: the kernel form, the partial buffers of the two-dispatch form and the
/// ReduceParams bytes (metal/reduce/params.h).
struct ReducePlan {
  enum class Form { Rows, Partial, Strided };
  Form form = Form::Strided;
  KernelFunction main, finish;  // finish: the second dispatch of Form::Partial
  Tensor partials, indices;     // Form::Partial: per-chunk results (indices: arg ops only)
  std::vector<uint8_t> params;
  uint32_t outputs = 0, chunks = 0;
  uint32_t groups = 0;  // Form::Rows: threadgroups (each reduces several outputs in turn)
};

/// Encodes a planned reduction of x into out (one dispatch, or two for Form::Partial).
struct ReduceOperation {
  Tensor x, out;
  ReducePlan plan;
  void encode(ComputeKernelEncoder& e) const;
};

/// sum/mean/max/min; `Derived` supplies `name`, `kernels` and `has_identity` (true: reducing
/// zero elements is allowed, as for sum).
template <class Derived>
struct ReduceOp {
  struct Args {
    Tensor x;
    std::optional<std::vector<int64_t>> axis;  // None: every axis
    bool keepdims = false;
  };
  using Operation = ReduceOperation;
  static std::pair<Operation, Tensor> create(Context& ctx, const Args& args);
};

/// argmax/argmin: `axis` is one axis (None: the flattened tensor).
template <class Derived>
struct ArgReduceOp {
  struct Args {
    Tensor x;
    std::optional<int64_t> axis;  // None: the index into the flattened tensor
    bool keepdims = false;
  };
  using Operation = ReduceOperation;
  static std::pair<Operation, Tensor> create(Context& ctx, const Args& args);
};

#define METALLIC_REDUCE_OP(Type, Base, label, identity) \
  struct Type : Base<Type> {                            \
    static constexpr const char* name = label;          \
    static constexpr bool has_identity = identity;      \
    static const KernelVariants kernels;                \
  }
METALLIC_REDUCE_OP(SumOp, ReduceOp, "reduce_sum", true);
METALLIC_REDUCE_OP(MeanOp, ReduceOp, "reduce_mean", true);
METALLIC_REDUCE_OP(MaxOp, ReduceOp, "reduce_max", false);
METALLIC_REDUCE_OP(MinOp, ReduceOp, "reduce_min", false);
METALLIC_REDUCE_OP(ArgmaxOp, ArgReduceOp, "reduce_argmax", false);
METALLIC_REDUCE_OP(ArgminOp, ArgReduceOp, "reduce_argmin", false);
#undef METALLIC_REDUCE_OP

}  // namespace metallic
