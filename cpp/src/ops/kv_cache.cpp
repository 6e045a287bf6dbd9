// Host side of metal/kv_cache: kv_cache_write, repeat_kv_heads and kv_rearrange, each one or
// more strided copies by the kernel kv_cache_copy.
#include "metallic/ops/kv_cache.hpp"

#include <limits>
#include <string>

#include "metallic/error.hpp"
#include "metallic/kernel_variants.hpp"
#include "metallic/op_registry.hpp"

namespace metallic {

namespace {

const KernelVariants kCopyKernels("kv_cache_copy", {""});

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

uint32_t to_u32(const char* op, int64_t v) {
  if (v < 0 || v > std::numeric_limits<uint32_t>::max()) {
    throw ShapeError(std::string(op) + ": sizes and offsets must be below 2^32 elements");
  }
  return static_cast<uint32_t>(v);
}

/// A copy of the [B, H, S, D] region `dst` (strides taken from it) from `src` laid out with the
/// given element strides and offset; source head = destination head / head_repeat.
KvCopyOperation::Copy make_copy(const char* op, const Tensor& src, const Tensor& dst,
                                int64_t src_offset, int64_t src_b, int64_t src_h, int64_t src_s,
                                int64_t head_repeat) {
  // The kernel addresses both regions with 32-bit element offsets: check their extents.
  const Shape& ds = dst.strides();
  if (dst.numel() > 0) {
    const int64_t last_b = dst.dim(0) - 1, last_h = dst.dim(1) - 1, last_s = dst.dim(2) - 1;
    to_u32(op, src_offset + last_b * src_b + last_h / head_repeat * src_h + last_s * src_s +
                   dst.dim(3));
    to_u32(op, last_b * ds[0] + last_h * ds[1] + last_s * ds[2] + dst.dim(3));
  }
  kernel_params::KvCopyParams p{};
  p.batch = to_u32(op, dst.dim(0));
  p.heads = to_u32(op, dst.dim(1));
  p.seq = to_u32(op, dst.dim(2));
  p.head_dim = to_u32(op, dst.dim(3));
  p.head_repeat = to_u32(op, head_repeat);
  p.src_offset = to_u32(op, src_offset);
  p.src_b = to_u32(op, src_b);
  p.src_h = to_u32(op, src_h);
  p.src_s = to_u32(op, src_s);
  p.dst_b = to_u32(op, ds[0]);
  p.dst_h = to_u32(op, ds[1]);
  p.dst_s = to_u32(op, ds[2]);
  to_u32(op, dst.numel());
  return {src, dst, kCopyKernels.get("", dst.dtype()), p};
}

}  // namespace

void KvCopyOperation::encode(ComputeKernelEncoder& e) const {
  for (const Copy& c : copies) {
    const uint32_t n = c.params.batch * c.params.heads * c.params.seq * c.params.head_dim;
    if (n == 0) continue;
    e.pipeline(c.function).buffer(0, c.src).buffer(1, c.dst).bytes(2, c.params).dispatch_1d(n, 256);
  }
}

std::pair<KvCopyOperation, Tensor> KvCacheWriteOp::create(Context&, const Args& args) {
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
  if (!cache.is_contiguous() || !nv.is_contiguous()) {
    throw ShapeError(std::string(op) + ": cache and new_values must be contiguous");
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
  const size_t elem = dtype_size(cache.dtype());
  const Shape& cs = cache.strides();
  const size_t row_bytes = static_cast<size_t>(cs[2]) * elem;
  Tensor target(cache.storage(), cache.dtype(), {cache.dim(0), cache.dim(1), n, cache.dim(3)}, cs,
                cache.offset_bytes() + static_cast<size_t>(args.position) * row_bytes);
  Tensor valid(cache.storage(), cache.dtype(),
               {cache.dim(0), cache.dim(1), args.position + n, cache.dim(3)}, cs,
               cache.offset_bytes());
  const Shape& ns = nv.strides();
  KvCopyOperation operation{{make_copy(op, nv, target, 0, ns[0], ns[1], ns[2], 1)}};
  return {std::move(operation), std::move(valid)};
}

std::pair<KvCopyOperation, Tensor> RepeatKvHeadsOp::create(Context& ctx, const Args& args) {
  const char* op = name;
  const Tensor& x = args.x;
  check_float(op, "x", x);
  check_4d(op, "x", x);
  if (args.repeats < 1) {
    throw ArgumentError(std::string(op) + ": repeats must be at least 1, got " +
                        std::to_string(args.repeats));
  }
  if (x.strides()[3] != 1 && x.dim(3) > 1) {
    throw ShapeError(std::string(op) + ": x's last dimension must be contiguous (stride 1)");
  }
  Tensor out = ctx.tensor(x.dtype(), {x.dim(0), x.dim(1) * args.repeats, x.dim(2), x.dim(3)});
  const Shape& s = x.strides();
  KvCopyOperation operation{{make_copy(op, x, out, 0, s[0], s[1], s[2], args.repeats)}};
  return {std::move(operation), std::move(out)};
}

std::pair<KvCopyOperation, std::vector<Tensor>> KvRearrangeOp::create(Context& ctx,
                                                                      const Args& args) {
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
  KvCopyOperation operation;
  int64_t offset = 0;
  for (int64_t h : {args.q_heads, args.kv_heads, args.kv_heads}) {
    Tensor out = ctx.tensor(qkv.dtype(), {batch, h, seq, d});
    operation.copies.push_back(make_copy(op, qkv, out, offset, seq * features, d, features, 1));
    outs.push_back(out);
    offset += h * d;
  }
  return {std::move(operation), std::move(outs)};
}

METALLIC_REGISTER_OP(KvCacheWriteOp, "kv_cache_write",
                     "Writes new keys or values at positions [position, position + n) of a "
                     "preallocated cache (in place); returns the view of positions "
                     "[0, position + n), ready for scaled_dot_product_attention.",
                     METALLIC_ARG(cache, "[batch, kv_heads, max_seq, head_dim], contiguous"),
                     METALLIC_ARG(new_values, "[batch, kv_heads, n, head_dim], contiguous"),
                     METALLIC_REQUIRED(position, "first position written"));
METALLIC_REGISTER_OP(RepeatKvHeadsOp, "repeat_kv_heads",
                     "Expands [batch, kv_heads, seq, head_dim] to [batch, kv_heads * repeats, seq, "
                     "head_dim] for grouped-query attention: output head h is input head "
                     "h // repeats (torch.repeat_interleave over dim 1).",
                     METALLIC_ARG(x, "[batch, kv_heads, seq, head_dim], head_dim contiguous"),
                     METALLIC_REQUIRED(repeats, "query heads per KV head"));
METALLIC_REGISTER_OP(KvRearrangeOp, "kv_rearrange",
                     "Splits a fused QKV projection [batch, seq, (q_heads + 2 kv_heads) * "
                     "head_dim] (q heads, then k, then v) into q [batch, q_heads, seq, head_dim], "
                     "k and v [batch, kv_heads, seq, head_dim].",
                     METALLIC_ARG(qkv, "[batch, seq, features] or [seq, features], contiguous"),
                     METALLIC_REQUIRED(q_heads, "number of query heads"),
                     METALLIC_REQUIRED(kv_heads, "number of key/value heads"));

}  // namespace metallic
