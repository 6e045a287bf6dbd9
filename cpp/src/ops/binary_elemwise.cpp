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
                     shape_str(a.strides()) + " and " + shape_str(b.strides()) +
                     "); call .contiguous() on a strided view first");
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
  KernelFunction fn = Derived::kernels.get(same ? "vv" : "vb", a.dtype());
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

const KernelVariants ElemwiseAddOp::kernels("elemwise_add", {"vv", "vb"});
const KernelVariants ElemwiseSubOp::kernels("elemwise_sub", {"vv", "vb"});
const KernelVariants ElemwiseMulOp::kernels("elemwise_mul", {"vv", "vb"});
const KernelVariants ElemwiseDivOp::kernels("elemwise_div", {"vv", "vb"});

template struct BinaryElemwiseOp<ElemwiseAddOp>;
template struct BinaryElemwiseOp<ElemwiseSubOp>;
template struct BinaryElemwiseOp<ElemwiseMulOp>;
template struct BinaryElemwiseOp<ElemwiseDivOp>;

#define METALLIC_BINARY_DOC(sym) \
  "a " sym " b, with b the same shape as a or broadcast over a's leading dimensions."
METALLIC_REGISTER_OP(ElemwiseAddOp, "add", METALLIC_BINARY_DOC("+"),
                     METALLIC_ARG(a, "left operand"), METALLIC_ARG(b, "right operand"));
METALLIC_REGISTER_OP(ElemwiseSubOp, "sub", METALLIC_BINARY_DOC("-"),
                     METALLIC_ARG(a, "left operand"), METALLIC_ARG(b, "right operand"));
METALLIC_REGISTER_OP(ElemwiseMulOp, "mul", METALLIC_BINARY_DOC("*"),
                     METALLIC_ARG(a, "left operand"), METALLIC_ARG(b, "right operand"));
METALLIC_REGISTER_OP(ElemwiseDivOp, "div", METALLIC_BINARY_DOC("/"),
                     METALLIC_ARG(a, "left operand"), METALLIC_ARG(b, "right operand"));

}  // namespace metallic
