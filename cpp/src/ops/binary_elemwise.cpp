// Host side of metal/elemwise_{add,sub,mul,div}: validation, kernel choice, binding.
#include "metallic/ops/binary_elemwise.hpp"

#include <algorithm>
#include <cstdint>
#include <limits>

#include "metallic/error.hpp"
#include "metallic/op_registry.hpp"

namespace metallic {

namespace {
using uint = uint32_t;
#include "common/binary_elemwise_params.h"

/// b broadcasts over a's leading dimensions: b's shape, without leading 1s, is a suffix of a's.
bool broadcasts_over_leading(const Shape& a, const Shape& b) {
  if (b.size() > a.size()) return false;
  size_t skip = 0;
  while (skip < b.size() && b[skip] == 1) skip++;
  const size_t n = b.size() - skip;
  return std::equal(b.begin() + static_cast<std::ptrdiff_t>(skip), b.end(),
                    a.end() - static_cast<std::ptrdiff_t>(n));
}
}  // namespace

KernelFunction BinaryKernels::pick(DType dtype, bool broadcast) const {
  switch (dtype) {
    case DType::F16:
      return broadcast ? vb_f16 : vv_f16;
    case DType::BF16:
      return broadcast ? vb_bf16 : vv_bf16;
    default:
      return broadcast ? vb_f32 : vv_f32;
  }
}

template <class Derived>
std::pair<typename BinaryElemwiseOp<Derived>::Operation, Tensor> BinaryElemwiseOp<Derived>::create(
    Context& ctx, const Args& args) {
  const char* name = Derived::name;
  const Tensor& a = args.a;
  const Tensor& b = args.b;
  if (!a.defined() || !b.defined()) throw ArgumentError(std::string(name) + ": undefined tensor");
  if (a.dtype() != b.dtype()) {
    throw DTypeError(std::string(name) + ": dtypes differ (" + dtype_name(a.dtype()) + " and " +
                     dtype_name(b.dtype()) + "); convert one of them first");
  }
  if (!dtype_is_float(a.dtype())) {
    throw DTypeError(std::string(name) + ": supports f32, f16 and bf16, got " +
                     dtype_name(a.dtype()));
  }
  if (!a.is_contiguous() || !b.is_contiguous()) {
    throw ShapeError(std::string(name) + ": inputs must be contiguous (got strides " +
                     shape_str(a.strides()) + " and " + shape_str(b.strides()) + ")");
  }
  const bool same = a.shape() == b.shape() || (a.numel() == b.numel() && a.numel() <= 1);
  if (!same && !broadcasts_over_leading(a.shape(), b.shape())) {
    throw ShapeError(std::string(name) + ": cannot broadcast b of shape " + shape_str(b.shape()) +
                     " over a of shape " + shape_str(a.shape()) +
                     " (b's shape must equal a's or a trailing part of it)");
  }
  if (a.numel() > std::numeric_limits<uint32_t>::max()) {
    throw ShapeError(std::string(name) + ": more than 2^32-1 elements");
  }
  if (b.numel() == 0 && a.numel() != 0) {
    throw ShapeError(std::string(name) + ": b is empty but a is not");
  }
  Tensor out = ctx.tensor(a.dtype(), a.shape());
  const BinaryKernels& k = Derived::kernels;
  KernelFunction fn = k.pick(a.dtype(), !same);
  const auto n = static_cast<uint32_t>(a.numel()), b_n = static_cast<uint32_t>(b.numel());
  Operation op{a, b, out, fn, n, b_n};
  return {std::move(op), std::move(out)};
}

template <class Derived>
void BinaryElemwiseOp<Derived>::Operation::bind_kernel_args(ComputeKernelEncoder& e) const {
  const BinaryElemwiseParams params{n, b_n};
  e.buffer(0, a).buffer(1, b).buffer(2, out).bytes(3, params);
}

template <class Derived>
void BinaryElemwiseOp<Derived>::Operation::encode(ComputeKernelEncoder& e) const {
  e.pipeline(function).bind_kernel(*this).dispatch_1d(n, 256);
}

const BinaryKernels ElemwiseAddOp::kernels = {
    KernelFunction::elemwise_add_vv_f32,  KernelFunction::elemwise_add_vv_f16,
    KernelFunction::elemwise_add_vv_bf16, KernelFunction::elemwise_add_vb_f32,
    KernelFunction::elemwise_add_vb_f16,  KernelFunction::elemwise_add_vb_bf16};
const BinaryKernels ElemwiseSubOp::kernels = {
    KernelFunction::elemwise_sub_vv_f32,  KernelFunction::elemwise_sub_vv_f16,
    KernelFunction::elemwise_sub_vv_bf16, KernelFunction::elemwise_sub_vb_f32,
    KernelFunction::elemwise_sub_vb_f16,  KernelFunction::elemwise_sub_vb_bf16};
const BinaryKernels ElemwiseMulOp::kernels = {
    KernelFunction::elemwise_mul_vv_f32,  KernelFunction::elemwise_mul_vv_f16,
    KernelFunction::elemwise_mul_vv_bf16, KernelFunction::elemwise_mul_vb_f32,
    KernelFunction::elemwise_mul_vb_f16,  KernelFunction::elemwise_mul_vb_bf16};
const BinaryKernels ElemwiseDivOp::kernels = {
    KernelFunction::elemwise_div_vv_f32,  KernelFunction::elemwise_div_vv_f16,
    KernelFunction::elemwise_div_vv_bf16, KernelFunction::elemwise_div_vb_f32,
    KernelFunction::elemwise_div_vb_f16,  KernelFunction::elemwise_div_vb_bf16};

template struct BinaryElemwiseOp<ElemwiseAddOp>;
template struct BinaryElemwiseOp<ElemwiseSubOp>;
template struct BinaryElemwiseOp<ElemwiseMulOp>;
template struct BinaryElemwiseOp<ElemwiseDivOp>;

namespace {
template <class Op>
Tensor invoke_binary(Context& ctx, const OpArgs& args) {
  return ctx.call<Op>({args.tensor("a"), args.tensor("b")});
}
}  // namespace

METALLIC_REGISTER_OP(ElemwiseAddOp, "add", "a: Tensor, b: Tensor",
                     "a + b, with b the same shape as a or broadcast over a's leading dimensions.",
                     invoke_binary<ElemwiseAddOp>);
METALLIC_REGISTER_OP(ElemwiseSubOp, "sub", "a: Tensor, b: Tensor",
                     "a - b, with b the same shape as a or broadcast over a's leading dimensions.",
                     invoke_binary<ElemwiseSubOp>);
METALLIC_REGISTER_OP(ElemwiseMulOp, "mul", "a: Tensor, b: Tensor",
                     "a * b, with b the same shape as a or broadcast over a's leading dimensions.",
                     invoke_binary<ElemwiseMulOp>);
METALLIC_REGISTER_OP(ElemwiseDivOp, "div", "a: Tensor, b: Tensor",
                     "a / b, with b the same shape as a or broadcast over a's leading dimensions.",
                     invoke_binary<ElemwiseDivOp>);

}  // namespace metallic
