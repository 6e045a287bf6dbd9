// Host side of metal/sdpa: validation, backend choice, the split of the KV range, binding; and
// the sdpa graph kernel (the mpsgraph backend).
#include "metallic/ops/sdpa.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "metallic/backend_registry.hpp"
#include "metallic/error.hpp"
#include "metallic/graph_kernel.hpp"
#include "metallic/op_registry.hpp"

namespace metallic {

namespace {

constexpr uint32_t kRows = 8;     // query rows per threadgroup (metal/sdpa/kernel.metal)
constexpr uint32_t kTile = 32;    // keys per tile
constexpr int64_t kMaxDim = 128;  // largest head_dim
constexpr uint32_t kThreads = 256;
// Below this many threadgroups the KV range is split so the device fills up (decode).
constexpr uint32_t kTargetGroups = 64;
constexpr uint32_t kMinKeysPerSplit = 128;

const KernelVariants kKernels("sdpa", {"", "combine", "row"});
const bool kLegacyRegistered = KernelBackendRegistry::register_backend("sdpa", "legacy");
// One thread per query row: on the CPU the flash-attention kernel's barriers and SIMD collectives
// cost a fiber switch per lane, while this form runs as a plain loop.
const bool kRowRegistered =
    KernelBackendRegistry::register_backend("sdpa", "row", BackendDevices::HostOnly);
const bool kGraphRegistered = KernelBackendRegistry::register_backend("sdpa", "mpsgraph");

/// The attention graph of one call: MPSGraph's fused node where the device has it, else
/// q kᵀ, scale, mask, softmax and · v, with the query heads that share a KV head stacked into
/// one matrix (GQA). Inputs and results in the storage dtype, the rest in the accumulator's.
graph::Graph build_sdpa_graph(const GraphKernelKey& key) {
  using graph::NodeId;
  graph::Graph g;
  const NodeId q = accumulator_input(g, key, 0, "q"), k = accumulator_input(g, key, 1, "k"),
               v = accumulator_input(g, key, 2, "v");
  std::optional<NodeId> mask;
  if (key.inputs[3].present) mask = accumulator_input(g, key, 3, "mask");
  if (key.inputs[4].present) {
    const NodeId causal = accumulator_input(g, key, 4, "causal_mask");
    mask = mask ? g.add(*mask, causal) : causal;
  }
  const double scale = key.attribute("scale");
  NodeId out;
  if (key.attribute("fused_attention") != 0) {
    out = g.scaled_dot_product_attention(q, k, v, mask, scale);
  } else {
    const auto& qs = key.inputs[0].shape;
    const auto& ks = key.inputs[1].shape;
    const int64_t batch = qs[0], heads = qs[1], queries = qs[2], dim = qs[3];
    const int64_t kv_heads = ks[1], keys = ks[2], group = heads / kv_heads;
    const NodeId stacked = g.reshape(q, {batch, kv_heads, group * queries, dim});
    NodeId scores = g.scale(g.matmul(stacked, k, false, true), scale);
    if (mask) {
      const NodeId per_head = g.reshape(scores, {batch, heads, queries, keys});
      scores =
          g.reshape(g.additive_mask(per_head, *mask), {batch, kv_heads, group * queries, keys});
    }
    out = g.reshape(g.matmul(g.softmax(scores, -1), v), {batch, heads, queries, dim});
  }
  set_storage_output(g, key, out);
  return g;
}

const GraphKernel& kGraphKernel = GraphKernel::register_kernel(
    "sdpa",
    {{{"q", "(B, H, Sq, D)", false, "queries"},
      {"k", "(B, Hkv, Skv, D)", false,
       "keys; H % Hkv == 0, query head h reads KV head h / (H / Hkv)"},
      {"v", "(B, Hkv, Skv, D)", false, "values, like k"},
      {"mask", "broadcast to (B, H, Sq, Skv)", true, "additive: 0 keeps, -inf hides"},
      {"causal_mask", "(Sq, Skv)", true,
       "the MaskArena's causal mask: key j hidden from query i when j > i + Skv - Sq"}},
     {{"out", "(B, H, Sq, D)", false, "softmax(q kᵀ · scale + masks) v"}},
     {{DType::F32, DType::F32}, {DType::F16, DType::F32}},
     {"attributes: scale (default 1/sqrt(D)), fused_attention (the device's fused node)",
      "decode (Sq = 1) needs no causal mask: every key precedes the query",
      "rows that see no key give 0"}},
    build_sdpa_graph);

[[noreturn]] void fail_shape(const std::string& msg) {
  throw ShapeError("sdpa: " + msg);
}

uint32_t u32(int64_t v) {
  if (v < 0 || v > std::numeric_limits<uint32_t>::max()) {
    fail_shape("sizes and strides must be below 2^32 elements");
  }
  return static_cast<uint32_t>(v);
}

/// Checks that the kernel's 32-bit element offsets reach every element of `t` (shape `shape`
/// with `t`'s strides, 0 where it broadcasts).
void check_extent(const Shape& shape, const Shape& strides) {
  int64_t last = 0;
  for (size_t i = 0; i < shape.size(); i++) {
    if (shape[i] == 0) return;
    last += (shape[i] - 1) * strides[i];
  }
  u32(last + 1);
}

void check_attention_tensor(const char* arg, const Tensor& t) {
  if (!t.defined()) throw ArgumentError(std::string("sdpa: ") + arg + " is undefined");
  if (t.dtype() != DType::F32 && t.dtype() != DType::F16) {
    throw DTypeError(std::string("sdpa: ") + arg + " must be f32 or f16, got " +
                     dtype_name(t.dtype()));
  }
  if (t.ndim() != 4) {
    fail_shape(std::string(arg) + " must be [batch, heads, seq, head_dim], got " +
               shape_str(t.shape()));
  }
  if (t.strides()[3] != 1 && t.dim(3) > 1) {
    fail_shape(std::string(arg) + "'s head_dim must be contiguous (stride 1), got strides " +
               shape_str(t.strides()));
  }
  for (int64_t stride : t.strides()) {
    if (stride < 0) {
      fail_shape(std::string(arg) + " has a negative stride (a reversed view), strides " +
                 shape_str(t.strides()) + ": pass " + arg + ".contiguous()");
    }
  }
}

/// The mask's strides over [batch, q_heads, q_len, kv_len] (0 where it broadcasts).
Shape mask_strides(const Tensor& mask, const Shape& full) {
  if (mask.ndim() < 2 || mask.ndim() > 4) {
    fail_shape("mask must have 2 to 4 dimensions that broadcast to " + shape_str(full) + ", got " +
               shape_str(mask.shape()));
  }
  Shape strides(size_t{4}, 0);
  const size_t skip = 4 - mask.ndim();
  for (size_t i = 0; i < mask.ndim(); i++) {
    const int64_t size = mask.shape()[i], want = full[skip + i];
    if (size != want && size != 1) {
      fail_shape("mask of shape " + shape_str(mask.shape()) + " does not broadcast to " +
                 shape_str(full));
    }
    strides[skip + i] = size == 1 ? 0 : mask.strides()[i];
  }
  if (strides[3] != 1 && full[3] > 1) {
    fail_shape("the mask's last dimension must be contiguous (stride 1)");
  }
  return strides;
}

}  // namespace

std::pair<SdpaDispatchOp::Operation, Tensor> SdpaDispatchOp::create(Context& ctx,
                                                                    const Args& args) {
  const DeviceKind device = ctx.device().kind();
  const std::string backend = ctx.backends().select("sdpa", device, [device] {
    if (device == DeviceKind::Host) {
      return BackendSelector::Choice{"row", "host device: one thread per query row, a plain loop"};
    }
    return BackendSelector::Choice{"legacy", "the MSL flash-attention kernel"};
  });
  const Tensor &q = args.q, &k = args.k, &v = args.v;
  check_attention_tensor("q", q);
  check_attention_tensor("k", k);
  check_attention_tensor("v", v);
  if (k.dtype() != q.dtype() || v.dtype() != q.dtype()) {
    throw DTypeError(std::string("sdpa: q, k and v must have one dtype, got ") +
                     dtype_name(q.dtype()) + ", " + dtype_name(k.dtype()) + " and " +
                     dtype_name(v.dtype()));
  }
  const int64_t batch = q.dim(0), q_heads = q.dim(1), q_len = q.dim(2), d = q.dim(3);
  const int64_t kv_heads = k.dim(1), kv_len = k.dim(2);
  if (k.dim(0) != batch || k.dim(3) != d || v.shape() != k.shape()) {
    fail_shape("k " + shape_str(k.shape()) + " and v " + shape_str(v.shape()) +
               " must be equal and match q " + shape_str(q.shape()) + " in batch and head_dim");
  }
  if (kv_heads == 0 || q_heads % kv_heads != 0) {
    fail_shape("q_heads (" + std::to_string(q_heads) + ") must be a multiple of kv_heads (" +
               std::to_string(kv_heads) + ")");
  }
  if (d > kMaxDim) {
    fail_shape("head_dim " + std::to_string(d) + " is above the supported " +
               std::to_string(kMaxDim));
  }
  if (args.causal && q_len > kv_len) {
    fail_shape(
        "causal attention needs q_len <= kv_len (queries are the last q_len positions), "
        "got q_len " +
        std::to_string(q_len) + " and kv_len " + std::to_string(kv_len));
  }
  if (args.scale && !std::isfinite(*args.scale)) {
    throw ArgumentError("sdpa: scale must be finite");
  }
  Tensor mask;
  Shape ms(size_t{4}, 0);
  if (args.mask) {
    mask = *args.mask;
    if (!mask.defined()) throw ArgumentError("sdpa: mask is undefined");
    if (mask.dtype() != q.dtype()) {
      throw DTypeError(std::string("sdpa: the mask must have q's dtype (") + dtype_name(q.dtype()) +
                       "), got " + dtype_name(mask.dtype()) +
                       "; an additive mask holds 0 and -inf");
    }
    ms = mask_strides(mask, {batch, q_heads, q_len, kv_len});
  }

  if (backend == "mpsgraph") {
    Operation op{};
    std::optional<Tensor> causal_mask;
    if (args.causal && q_len > 1) {  // one query sees every key: no mask needed
      causal_mask = ctx.resources().get_or_create_mpsgraph_mask(ctx, MaskKind::Causal, q_len,
                                                                kv_len, q.dtype());
    }
    const double scale = args.scale ? *args.scale : 1.0 / std::sqrt(static_cast<double>(d));
    op.graph = prepare_graph_kernel_call(ctx, kGraphKernel, {q, k, v, args.mask, causal_mask},
                                         default_graph_policy(q.dtype()), {{"scale", scale}});
    Tensor out = op.graph->outputs[0];
    return {std::move(op), std::move(out)};
  }

  Tensor out = ctx.tensor(q.dtype(), {batch, q_heads, q_len, d});
  kernel_params::SdpaParams p{};
  p.batch = u32(batch);
  p.kv_heads = u32(kv_heads);
  p.head_repeat = u32(q_heads / kv_heads);
  p.q_len = u32(q_len);
  p.kv_len = u32(kv_len);
  p.head_dim = u32(d);
  p.rows = u32(q_len * (q_heads / kv_heads));
  p.q_b = u32(q.strides()[0]), p.q_h = u32(q.strides()[1]), p.q_s = u32(q.strides()[2]);
  p.k_b = u32(k.strides()[0]), p.k_h = u32(k.strides()[1]), p.k_s = u32(k.strides()[2]);
  p.v_b = u32(v.strides()[0]), p.v_h = u32(v.strides()[1]), p.v_s = u32(v.strides()[2]);
  p.mask_b = u32(ms[0]), p.mask_h = u32(ms[1]), p.mask_q = u32(ms[2]);
  p.has_mask = args.mask ? 1 : 0;
  p.causal = args.causal ? 1 : 0;
  p.scale = static_cast<float>(args.scale ? *args.scale : 1.0 / std::sqrt(static_cast<double>(d)));
  check_extent(q.shape(), q.strides());
  check_extent(k.shape(), k.strides());
  check_extent(v.shape(), v.strides());
  check_extent({batch, q_heads, q_len, kv_len}, ms);
  u32(out.numel());  // the combine kernel indexes the output with one 32-bit thread id

  const uint32_t row_blocks = (p.rows + kRows - 1) / kRows;
  const uint64_t groups = uint64_t(row_blocks) * p.batch * p.kv_heads;
  uint32_t splits = 1;
  if (groups > 0 && groups < kTargetGroups && kv_len > kMinKeysPerSplit) {
    const auto most = static_cast<uint32_t>((kv_len + kMinKeysPerSplit - 1) / kMinKeysPerSplit);
    splits = std::min<uint32_t>(most, static_cast<uint32_t>((kTargetGroups + groups - 1) / groups));
  }
  const uint32_t per_split = (p.kv_len + splits - 1) / std::max<uint32_t>(splits, 1);
  p.keys_per_split = std::max<uint32_t>(kTile, (per_split + kTile - 1) / kTile * kTile);
  p.splits = std::max<uint32_t>(1, (p.kv_len + p.keys_per_split - 1) / p.keys_per_split);

  Operation op{q,
               k,
               v,
               mask,
               out,
               out,
               out,
               p,
               kKernels.get("", q.dtype()),
               kKernels.get("combine", q.dtype()),
               row_blocks};
  op.by_row = backend == "row";
  if (op.by_row) {
    op.attend = kKernels.get("row", q.dtype());
  } else if (p.splits > 1) {
    const int64_t parts = batch * kv_heads * p.rows * p.splits;
    op.part_acc = ctx.tensor(DType::F32, {parts, d});
    op.part_stats = ctx.tensor(DType::F32, {parts, 2});
  }
  return {std::move(op), std::move(out)};
}

void SdpaDispatchOp::Operation::encode(ComputeKernelEncoder& e) const {
  if (graph) {
    graph->encode(e);
    return;
  }
  if (out.numel() == 0) return;
  // Unused bindings (no mask, a single split) get a tensor the kernel never reads.
  e.pipeline(attend)
      .buffer(0, q)
      .buffer(1, k)
      .buffer(2, v)
      .buffer(3, mask.defined() ? mask : q)
      .buffer(4, out)
      .bytes(7, params);
  if (by_row) {
    e.dispatch_1d(params.batch * params.kv_heads * params.rows, 64);
    return;
  }
  e.buffer(5, part_acc)
      .buffer(6, part_stats)
      .dispatch_custom({row_blocks, params.batch * params.kv_heads, params.splits},
                       {kThreads, 1, 1});
  if (params.splits == 1) return;
  e.pipeline(combine)
      .buffer(0, part_acc)
      .buffer(1, part_stats)
      .buffer(2, out)
      .bytes(3, params)
      .dispatch_1d(static_cast<uint32_t>(out.numel()), 256);
}

#define METALLIC_SDPA_ARGS                                                                         \
  METALLIC_ARG(q, "queries [batch, q_heads, q_len, head_dim]"),                                    \
      METALLIC_ARG(k, "keys [batch, kv_heads, kv_len, head_dim] (q_heads % kv_heads == 0)"),       \
      METALLIC_ARG(v, "values, like k"),                                                           \
      METALLIC_ARG(mask, "additive mask broadcast to [batch, q_heads, q_len, kv_len], q's dtype"), \
      METALLIC_ARG(causal, "mask keys after each query, aligned bottom-right"),                    \
      METALLIC_ARG(scale, "applied to q kᵀ before the mask; default 1/sqrt(head_dim)")
#define METALLIC_SDPA_DOC                                                                        \
  "softmax(q kᵀ · scale + mask) v; query head h reads KV head h // (q_heads / kv_heads). k and " \
  "v may be strided views (head_dim contiguous), e.g. the valid prefix kv_cache_write returns. " \
  "Rows that see no key give 0."
METALLIC_REGISTER_OP(SdpaDispatchOp, "scaled_dot_product_attention", METALLIC_SDPA_DOC,
                     METALLIC_SDPA_ARGS);
METALLIC_REGISTER_OP(SdpaOp, "sdpa", METALLIC_SDPA_DOC, METALLIC_SDPA_ARGS);

}  // namespace metallic
