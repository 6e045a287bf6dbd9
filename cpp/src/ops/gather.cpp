// Host side of metal/gather: validation, the [outer, n, inner] view of x, kernel choice.
#include "metallic/ops/gather.hpp"

#include <limits>
#include <string>

#include "metallic/device.hpp"
#include "metallic/error.hpp"
#include "metallic/kernel.hpp"
#include "metallic/kernel_variants.hpp"
#include "metallic/op_registry.hpp"

namespace metallic {

namespace {
using uint = uint32_t;
#include "gather/params.h"

const KernelVariants kernels("gather", {"i32", "u32"});
const KernelVariants rows16_kernels("gather_rows16", {""});
}  // namespace

std::pair<TakeOp::Operation, Tensor> TakeOp::create(Context& ctx, const Args& args) {
  const Tensor& x = args.x;
  const Tensor& idx = args.indices;
  if (!x.defined() || !idx.defined()) throw ArgumentError("take: undefined tensor");
  if (idx.dtype() != DType::I32 && idx.dtype() != DType::U32) {
    throw DTypeError(std::string("take: indices must be i32 or u32, got ") +
                     dtype_name(idx.dtype()) + "; convert them with astype");
  }
  const auto ndim = static_cast<int64_t>(x.ndim());
  if (ndim == 0) throw ShapeError("take: x must have at least one dimension");
  if (args.axis < -ndim || args.axis >= ndim) {
    throw ArgumentError("take: axis " + std::to_string(args.axis) +
                        " is out of range for a tensor of " + std::to_string(ndim) + " dimensions");
  }
  if (!x.is_contiguous() || !idx.is_contiguous()) {
    throw ShapeError("take: x and indices must be contiguous (call .contiguous() first)");
  }
  const auto axis = static_cast<size_t>(args.axis < 0 ? args.axis + ndim : args.axis);
  int64_t outer = 1, inner = 1;
  Shape shape;
  for (size_t d = 0; d < axis; ++d) {
    outer *= x.shape()[d];
    shape.push_back(x.shape()[d]);
  }
  for (int64_t d : idx.shape()) shape.push_back(d);
  for (size_t d = axis + 1; d < x.ndim(); ++d) {
    inner *= x.shape()[d];
    shape.push_back(x.shape()[d]);
  }
  const int64_t n = x.shape()[axis];
  if (n == 0 && idx.numel() > 0 && outer * inner > 0) {
    throw ShapeError("take: cannot take from axis " + std::to_string(axis) + " of length 0");
  }
  constexpr int64_t kMax = std::numeric_limits<uint32_t>::max();
  if (x.numel() >= kMax || outer * idx.numel() * inner >= kMax) {
    throw ShapeError("take: more than 2^32-1 elements");
  }
  KernelFunction fn = kernels.get(dtype_name(idx.dtype()), x.dtype());
  // Whole 16-byte vectors per row, aligned (the pool aligns out): copy as uint4.
  const size_t row_bytes = static_cast<size_t>(inner) * dtype_size(x.dtype());
  const bool rows16 = row_bytes % 16 == 0 && x.offset_bytes() % 16 == 0;
  if (rows16) fn = rows16_kernels.get("", idx.dtype());
  // rows16 threads per row: on a GPU 8, so each step of the 8 copies 128 contiguous bytes (a
  // cache line on Apple GPUs); on the host device 1, so a row is one loop of 16-byte copies and
  // the per-thread cost of the emulation is paid once per row (1.4x faster there).
  const uint32_t rows16_threads = ctx.device().kind() == DeviceKind::Host ? 1 : 8;
  Tensor out = ctx.tensor(x.dtype(), shape);
  Operation op{x,
               idx,
               out,
               fn,
               rows16,
               rows16_threads,
               static_cast<uint32_t>(outer),
               static_cast<uint32_t>(n),
               static_cast<uint32_t>(inner),
               static_cast<uint32_t>(idx.numel())};
  return {std::move(op), std::move(out)};
}

void TakeOp::Operation::bind_kernel_args(ComputeKernelEncoder& e) const {
  // rows16 counts in 16-byte vectors.
  const uint32_t per_vector = rows16 ? 16 / static_cast<uint32_t>(dtype_size(x.dtype())) : 1;
  const GatherParams p{outer, n, inner / per_vector, count,
                       static_cast<uint32_t>(x.numel()) / per_vector};
  e.buffer(0, x).buffer(1, indices).buffer(2, out).bytes(3, p);
}

void TakeOp::Operation::encode(ComputeKernelEncoder& e) const {
  const uint32_t rows = outer * count;
  if (inner == 0 || rows == 0) return;
  if (rows16) {
    const uint32_t per_row = rows16_threads;
    e.pipeline(function).bind_kernel(*this).dispatch_threads({per_row, rows, 1},
                                                             {per_row, std::min(32u, rows), 1});
    return;
  }
  const uint32_t runs = (inner + 3) / 4;
  uint32_t tx = 1;
  while (tx < runs && tx < 256) tx *= 2;
  e.pipeline(function).bind_kernel(*this).dispatch_threads({runs, rows, 1},
                                                           {tx, std::min(256 / tx, rows), 1});
}

std::pair<TakeOp::Operation, Tensor> EmbeddingOp::create(Context& ctx, const Args& args) {
  if (args.table.defined() && args.table.ndim() != 2) {
    throw ShapeError("embedding: table must be [vocab, dim], got shape " +
                     shape_str(args.table.shape()));
  }
  return TakeOp::create(ctx, {args.table, args.ids, 0});
}

METALLIC_REGISTER_OP(TakeOp, "take",
                     "Elements of x at `indices` along `axis` (numpy's take; negative i32 "
                     "indices count from the end). Out-of-range indices: an error on the host "
                     "device with METALLIC_HOST_CHECKS=1, unspecified values otherwise.",
                     METALLIC_ARG(x, "source (contiguous)"),
                     METALLIC_ARG(indices, "i32 or u32 indices, any shape"),
                     METALLIC_ARG(axis, "axis of x to index"));
METALLIC_REGISTER_OP(EmbeddingOp, "embedding",
                     "Rows table[ids]: shape ids.shape + [dim] (take along axis 0).",
                     METALLIC_ARG(table, "[vocab, dim] (contiguous)"),
                     METALLIC_ARG(ids, "i32 or u32 token ids, any shape"));

}  // namespace metallic
