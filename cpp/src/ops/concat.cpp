// Host side of concatenate and split: one copy dispatch per part, between the part and a view of
// the joined tensor narrowed along the axis.
#include "metallic/ops/concat.hpp"

#include <algorithm>
#include <string>

#include "metallic/error.hpp"
#include "strided_copy.hpp"

namespace metallic {

std::pair<ConcatenateOp::Operation, Tensor> ConcatenateOp::create(Context& ctx, const Args& args) {
  const std::vector<Tensor>& ts = args.tensors;
  if (ts.empty()) throw ArgumentError("concatenate: needs at least one tensor");
  for (size_t i = 0; i < ts.size(); ++i) {
    if (!ts[i].defined()) {
      throw ArgumentError("concatenate: tensors[" + std::to_string(i) + "] is undefined");
    }
  }
  const Tensor& first = ts[0];
  if (first.ndim() == 0) throw ShapeError("concatenate: 0-dimensional tensors have no axis");
  const size_t axis = normalize_axis(name, args.axis, first.ndim());
  Shape shape = first.shape();
  shape[axis] = 0;
  for (size_t i = 0; i < ts.size(); ++i) {
    const Tensor& t = ts[i];
    const std::string which = "tensors[" + std::to_string(i) + "]";
    if (&t.context() != &first.context()) {
      throw ArgumentError("concatenate: " + which + " belongs to another context than tensors[0]");
    }
    if (t.dtype() != first.dtype()) {
      throw DTypeError("concatenate: " + which + " has dtype " + dtype_name(t.dtype()) +
                       ", tensors[0] " + dtype_name(first.dtype()) +
                       "; convert with .astype() first");
    }
    Shape expected = first.shape();
    expected[axis] = t.ndim() == first.ndim() ? t.shape()[axis] : 0;
    if (t.ndim() != first.ndim() || t.shape() != expected) {
      throw ShapeError("concatenate: " + which + " has shape " + shape_str(t.shape()) +
                       ", tensors[0] " + shape_str(first.shape()) + "; all dimensions but axis " +
                       std::to_string(axis) + " must match");
    }
    shape[axis] += t.shape()[axis];
  }
  check_copy_dtype(name, "the tensors", first.dtype());
  Tensor out = ctx.tensor(first.dtype(), shape);
  Operation op;
  int64_t start = 0;
  for (const Tensor& t : ts) {
    op.add(StridedCopy::plan(name, t, narrow(out, axis, start, t.shape()[axis])));
    start += t.shape()[axis];
  }
  return {std::move(op), std::move(out)};
}

std::pair<SplitOp::Operation, std::vector<Tensor>> SplitOp::create(Context& ctx, const Args& args) {
  const Tensor& x = args.x;
  if (!x.defined()) throw ArgumentError("split: x is an undefined tensor");
  if (x.ndim() == 0) throw ShapeError("split: a 0-dimensional tensor has no axis");
  if (args.sections.has_value() == args.indices.has_value()) {
    throw ArgumentError(
        "split: pass either sections (a number of equal parts) or indices "
        "(where to cut), not both or neither");
  }
  const size_t axis = normalize_axis(name, args.axis, x.ndim());
  const int64_t extent = x.shape()[axis];
  std::vector<int64_t> cuts;  // part boundaries: 0, ..., extent
  if (args.sections) {
    const int64_t k = *args.sections;
    if (k <= 0 || extent % k != 0) {
      throw ShapeError("split: axis " + std::to_string(axis) + " of length " +
                       std::to_string(extent) + " cannot be split into " + std::to_string(k) +
                       " equal parts (sections must be a positive divisor)");
    }
    for (int64_t i = 0; i <= k; ++i) cuts.push_back(i * (extent / k));
  } else {
    // As numpy's x[cut_i:cut_i+1]: cuts clamp to [0, extent]; decreasing ones give empty parts.
    cuts.push_back(0);
    for (int64_t i : *args.indices) {
      cuts.push_back(std::clamp<int64_t>(i < 0 ? i + extent : i, 0, extent));
    }
    cuts.push_back(extent);
  }
  check_copy_dtype(name, "x", x.dtype());
  Operation op;
  std::vector<Tensor> parts;
  for (size_t i = 0; i + 1 < cuts.size(); ++i) {
    const Tensor view = narrow(x, axis, cuts[i], std::max<int64_t>(cuts[i + 1] - cuts[i], 0));
    parts.push_back(ctx.tensor(x.dtype(), view.shape()));
    op.add(StridedCopy::plan(name, view, parts.back()));
  }
  return {std::move(op), std::move(parts)};
}

METALLIC_REGISTER_OP(ConcatenateOp, "concatenate",
                     "numpy's concatenate: the tensors joined along axis (same dtype; the other "
                     "dimensions equal).",
                     METALLIC_ARG(tensors, "the parts, in order"),
                     METALLIC_ARG(axis, "the axis to join along (negative from the end)"));
METALLIC_REGISTER_OP(SplitOp, "split",
                     "x cut along axis into sections equal parts, or at indices (numpy's split; "
                     "each part is a new contiguous tensor).",
                     METALLIC_ARG(x, "input"),
                     METALLIC_ARG(sections, "number of equal parts (or pass indices)"),
                     METALLIC_ARG(axis, "the axis to cut (negative from the end)"),
                     METALLIC_ARG(indices, "where to cut, in increasing order (or pass sections)"));

}  // namespace metallic
