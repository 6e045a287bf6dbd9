// Host side of kv_cache_write, repeat_kv_heads and kv_rearrange: each builds a strided view of its
// source shaped as its destination and plans one copy-kernel dispatch (strided_copy.hpp) per
// destination.
#include "metallic/ops/kv_cache.hpp"

#include <string>

#include "metallic/error.hpp"
#include "metallic/op_registry.hpp"
#include "strided_copy.hpp"

namespace metallic {

namespace {

void check_float(const char* op, const char* arg, const Tensor& t) {
  if (!t.defined()) throw ArgumentError(std::string(op) + ": " + arg + " is undefined");
  if (!dtype_is_float(t.dtype())) {
    throw DTypeError(std::string(op) + ": " + arg + " must be f32, f16 or bf16, got " +
                     dtype_name(t.dtype()));
  }
}

void check_4d(const char* op, const char* arg, const Tensor& t) {
  if (t.ndim() != 4) {
    throw ShapeError(std::string(op) + ": " + arg + " must be [batch, heads, seq, head_dim], got " +
                     shape_str(t.shape()));
  }
}

/// A view of t's storage with the given shape, element strides and element offset from t's start.
Tensor view_of(const Tensor& t, const Shape& shape, const Shape& strides, int64_t offset) {
  return Tensor(t.storage(), t.dtype(), shape, strides,
                t.offset_bytes() + static_cast<size_t>(offset) * dtype_size(t.dtype()));
}

/// One copy-kernel dispatch src -> dst (same shape).
DispatchList copy_list(const char* op, const Tensor& src, const Tensor& dst) {
  DispatchList list;
  list.add(StridedCopy::plan(op, src, dst));
  return list;
}

}  // namespace

std::pair<DispatchList, Tensor> KvCacheWriteOp::create(Context&, const Args& args) {
  const char* op = name;
  const Tensor& cache = args.cache;
  const Tensor& nv = args.new_values;
  check_float(op, "cache", cache);
  check_float(op, "new_values", nv);
  check_4d(op, "cache", cache);
  check_4d(op, "new_values", nv);
  if (cache.dtype() != nv.dtype()) {
    throw DTypeError(std::string(op) + ": cache is " + dtype_name(cache.dtype()) +
                     " but new_values is " + dtype_name(nv.dtype()) + "; convert new_values");
  }
  if (!cache.is_contiguous()) {
    throw ShapeError(std::string(op) + ": cache must be contiguous (allocate it with ctx.zeros)");
  }
  if (nv.dim(0) != cache.dim(0) || nv.dim(1) != cache.dim(1) || nv.dim(3) != cache.dim(3)) {
    throw ShapeError(std::string(op) + ": new_values " + shape_str(nv.shape()) +
                     " must match the cache " + shape_str(cache.shape()) +
                     " in batch, heads and head_dim");
  }
  const int64_t n = nv.dim(2), max_seq = cache.dim(2);
  if (args.position < 0 || args.position + n > max_seq) {
    throw ShapeError(std::string(op) + ": positions [" + std::to_string(args.position) + ", " +
                     std::to_string(args.position + n) + ") do not fit in a cache of " +
                     std::to_string(max_seq) + " positions");
  }
  const Shape& cs = cache.strides();
  const Tensor target =
      view_of(cache, {cache.dim(0), cache.dim(1), n, cache.dim(3)}, cs, args.position * cs[2]);
  if (may_overlap(nv, target)) {
    throw ArgumentError(std::string(op) +
                        ": new_values is a view of the cache positions it would overwrite; "
                        "pass a copy (mt.ops.copy)");
  }
  const Tensor valid =
      view_of(cache, {cache.dim(0), cache.dim(1), args.position + n, cache.dim(3)}, cs, 0);
  return {copy_list(op, nv, target), valid};
}

std::pair<DispatchList, Tensor> RepeatKvHeadsOp::create(Context& ctx, const Args& args) {
  const char* op = name;
  const Tensor& x = args.x;
  check_float(op, "x", x);
  check_4d(op, "x", x);
  if (args.repeats < 1) {
    throw ArgumentError(std::string(op) + ": repeats must be at least 1, got " +
                        std::to_string(args.repeats));
  }
  const int64_t b = x.dim(0), h = x.dim(1), s = x.dim(2), d = x.dim(3), r = args.repeats;
  Tensor out = ctx.tensor(x.dtype(), {b, h * r, s, d});
  // Output head h * r + i is input head h: x read as [b, h, r, s, d] with stride 0 over r.
  const Shape& xs = x.strides();
  const Tensor src = view_of(x, {b, h, r, s, d}, {xs[0], xs[1], 0, xs[2], xs[3]}, 0);
  const Tensor dst = view_of(out, {b, h, r, s, d}, {h * r * s * d, r * s * d, s * d, d, 1}, 0);
  return {copy_list(op, src, dst), std::move(out)};
}

std::pair<DispatchList, std::vector<Tensor>> KvRearrangeOp::create(Context& ctx, const Args& args) {
  const char* op = name;
  const Tensor& qkv = args.qkv;
  check_float(op, "qkv", qkv);
  if (qkv.ndim() != 2 && qkv.ndim() != 3) {
    throw ShapeError(std::string(op) +
                     ": qkv must be [batch, seq, features] or [seq, features], "
                     "got " +
                     shape_str(qkv.shape()));
  }
  if (!qkv.is_contiguous()) throw ShapeError(std::string(op) + ": qkv must be contiguous");
  if (args.q_heads < 1 || args.kv_heads < 1) {
    throw ArgumentError(std::string(op) + ": q_heads and kv_heads must be at least 1, got " +
                        std::to_string(args.q_heads) + " and " + std::to_string(args.kv_heads));
  }
  const int64_t heads = args.q_heads + 2 * args.kv_heads;
  const int64_t features = qkv.dim(-1);
  if (features % heads != 0 || features == 0) {
    throw ShapeError(std::string(op) + ": the last dimension (" + std::to_string(features) +
                     ") must be (q_heads + 2 * kv_heads) * head_dim = " + std::to_string(heads) +
                     " * head_dim");
  }
  const int64_t d = features / heads;
  const int64_t batch = qkv.ndim() == 3 ? qkv.dim(0) : 1, seq = qkv.dim(-2);
  std::vector<Tensor> outs;
  DispatchList list;
  int64_t offset = 0;
  for (int64_t h : {args.q_heads, args.kv_heads, args.kv_heads}) {
    Tensor out = ctx.tensor(qkv.dtype(), {batch, h, seq, d});
    // Head j of this group: features [offset + j * d, offset + (j + 1) * d) of every token.
    const Tensor heads_view = view_of(qkv, out.shape(), {seq * features, d, features, 1}, offset);
    list.add(StridedCopy::plan(op, heads_view, out));
    outs.push_back(out);
    offset += h * d;
  }
  return {std::move(list), std::move(outs)};
}

METALLIC_REGISTER_OP(KvCacheWriteOp, "kv_cache_write",
                     "Writes new keys or values at positions [position, position + n) of a "
                     "preallocated cache (in place); returns the view of positions "
                     "[0, position + n), ready for scaled_dot_product_attention.",
                     METALLIC_ARG(cache, "[batch, kv_heads, max_seq, head_dim], contiguous"),
                     METALLIC_ARG(new_values, "[batch, kv_heads, n, head_dim], any strides"),
                     METALLIC_REQUIRED(position, "first position written"));
METALLIC_REGISTER_OP(RepeatKvHeadsOp, "repeat_kv_heads",
                     "Expands [batch, kv_heads, seq, head_dim] to [batch, kv_heads * repeats, seq, "
                     "head_dim] for grouped-query attention: output head h is input head "
                     "h // repeats (torch.repeat_interleave over dim 1).",
                     METALLIC_ARG(x, "[batch, kv_heads, seq, head_dim], any strides"),
                     METALLIC_REQUIRED(repeats, "query heads per KV head"));
METALLIC_REGISTER_OP(KvRearrangeOp, "kv_rearrange",
                     "Splits a fused QKV projection [batch, seq, (q_heads + 2 kv_heads) * "
                     "head_dim] (q heads, then k, then v) into q [batch, q_heads, seq, head_dim], "
                     "k and v [batch, kv_heads, seq, head_dim].",
                     METALLIC_ARG(qkv, "[batch, seq, features] or [seq, features], contiguous"),
                     METALLIC_REQUIRED(q_heads, "number of query heads"),
                     METALLIC_REQUIRED(kv_heads, "number of key/value heads"));

}  // namespace metallic
