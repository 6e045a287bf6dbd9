// Host side of copy, contiguous and copyto: validation, the output, the planned dispatches.
#include "metallic/ops/copy.hpp"

#include <string>

#include "metallic/error.hpp"
#include "strided_copy.hpp"
#include "strided_fill.hpp"

namespace metallic {

namespace {

void check_defined(const char* op, const char* what, const Tensor& t) {
  if (!t.defined()) throw ArgumentError(std::string(op) + ": " + what + " is an undefined tensor");
}

/// src as a view of `shape` by numpy broadcasting (size-1 or missing leading dims get stride 0).
Tensor broadcast_view(const char* op, const Tensor& src, const Shape& shape) {
  const size_t n = shape.size();
  bool ok = src.ndim() <= n;
  Shape strides(n, 0);
  for (size_t i = 0; ok && i < src.ndim(); ++i) {
    const size_t d = n - src.ndim() + i;
    if (src.shape()[i] == shape[d]) {
      strides[d] = src.strides()[i];
    } else {
      ok = src.shape()[i] == 1;
    }
  }
  if (!ok) {
    throw ShapeError(std::string(op) + ": cannot broadcast src of shape " + shape_str(src.shape()) +
                     " to dst's shape " + shape_str(shape) +
                     " (each src dimension must equal dst's or be 1)");
  }
  return Tensor(src.storage(), src.dtype(), shape, strides, src.offset_bytes());
}

}  // namespace

std::pair<CopyOp::Operation, Tensor> CopyOp::create(Context& ctx, const Args& args) {
  check_defined(name, "x", args.x);
  check_copy_dtype(name, "x", args.x.dtype());
  Tensor out = ctx.tensor(args.x.dtype(), args.x.shape());
  Operation op;
  op.add(StridedCopy::plan(name, args.x, out));
  return {std::move(op), std::move(out)};
}

std::pair<ContiguousOp::Operation, Tensor> ContiguousOp::create(Context& ctx, const Args& args) {
  check_defined(name, "x", args.x);
  if (args.x.is_contiguous()) return {Operation{}, args.x};
  return CopyOp::create(ctx, {args.x});
}

std::pair<CopyToOp::Operation, Tensor> CopyToOp::create(Context& ctx, const Args& args) {
  const Tensor& dst = args.dst;
  check_defined(name, "dst", dst);
  Operation op;
  if (const double* value = std::get_if<double>(&args.src)) {
    op.add(StridedFill::plan(name, dst, *value));
    return {std::move(op), dst};
  }
  Tensor src = std::get<Tensor>(args.src);
  check_defined(name, "src", src);
  if (&src.context() != &dst.context()) {
    throw ArgumentError(std::string(name) + ": src and dst belong to different contexts");
  }
  check_copy_dtype(name, "src", src.dtype());
  check_copy_dtype(name, "dst", dst.dtype());
  // Overlapping views (a[1:] = a[:-1]) read what the copy writes: copy src out first, as numpy.
  if (may_overlap(src, dst)) src = ctx.call<CopyOp>({src});
  op.add(StridedCopy::plan(name, broadcast_view(name, src, dst.shape()), dst));
  return {std::move(op), dst};
}

METALLIC_REGISTER_OP(CopyOp, "copy", "A contiguous copy of x (any strided view, rank <= 8).",
                     METALLIC_ARG(x, "tensor or view to copy"));
METALLIC_REGISTER_OP(ContiguousOp, "contiguous",
                     "x itself if it is contiguous, else a contiguous copy of it.",
                     METALLIC_ARG(x, "tensor or view"));
METALLIC_REGISTER_OP(CopyToOp, "copyto",
                     "Writes src into dst (numpy's copyto: src broadcast to dst's shape and "
                     "converted to its dtype, or a scalar); dst may be a view. Returns dst.",
                     METALLIC_ARG(dst, "tensor or view written"),
                     METALLIC_REQUIRED(src, "tensor broadcastable to dst, or a number"));

}  // namespace metallic
