// Host side of permute and transpose: a permuted view of x, copied contiguous by the copy kernels.
#include "metallic/ops/permute.hpp"

#include <numeric>
#include <string>

#include "metallic/error.hpp"
#include "strided_copy.hpp"

namespace metallic {

namespace {
std::pair<DispatchList, Tensor> permuted_copy(const char* op, Context& ctx, const Tensor& x,
                                              const std::vector<int64_t>& axes) {
  if (!x.defined()) throw ArgumentError(std::string(op) + ": x is an undefined tensor");
  Tensor view;
  try {
    view = x.permute(axes);
  } catch (const ShapeError& e) {
    throw ShapeError(std::string(op) + ": " + e.what());
  }
  Tensor out = ctx.tensor(x.dtype(), view.shape());
  DispatchList list;
  list.add(StridedCopy::plan(op, view, out));
  return {std::move(list), std::move(out)};
}
}  // namespace

std::pair<PermuteOp::Operation, Tensor> PermuteOp::create(Context& ctx, const Args& args) {
  return permuted_copy(name, ctx, args.x, args.axes);
}

std::pair<TransposeOp::Operation, Tensor> TransposeOp::create(Context& ctx, const Args& args) {
  if (args.axes) return permuted_copy(name, ctx, args.x, *args.axes);
  std::vector<int64_t> reversed(args.x.defined() ? args.x.ndim() : 0);
  std::iota(reversed.rbegin(), reversed.rend(), 0);
  return permuted_copy(name, ctx, args.x, reversed);
}

METALLIC_REGISTER_OP(PermuteOp, "permute",
                     "A contiguous tensor whose axis i is x's axis axes[i] (a copy; "
                     "Tensor.transpose gives the view).",
                     METALLIC_ARG(x, "input"),
                     METALLIC_REQUIRED(axes, "a permutation of x's axes (negative from the end)"));
METALLIC_REGISTER_OP(TransposeOp, "transpose",
                     "numpy's transpose, materialised: axes None reverses x's axes.",
                     METALLIC_ARG(x, "input"),
                     METALLIC_ARG(axes, "a permutation of x's axes, or None to reverse them"));

}  // namespace metallic
