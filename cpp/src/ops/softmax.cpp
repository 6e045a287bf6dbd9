// Host side of metal/softmax: validation, mask broadcasting, the vec/block/row backend choice,
// and the softmax graph kernel (the mpsgraph backend).
#include "metallic/ops/softmax.hpp"

#include <algorithm>
#include <string>

#include "float_input.hpp"
#include "metallic/backend_registry.hpp"
#include "metallic/error.hpp"
#include "metallic/graph_kernel.hpp"
#include "metallic/op_registry.hpp"

namespace metallic {

namespace {
using uint = uint32_t;
#include "softmax/params.h"

const KernelVariants softmax_kernels("softmax", {"vec", "block", "row"});
const bool registered_vec = KernelBackendRegistry::register_backend("softmax", "vec");
const bool registered_block = KernelBackendRegistry::register_backend("softmax", "block");
// On the host device every GPU thread of a kernel with SIMD-group reductions is a fiber, and each
// reduction costs every fiber a switch: a thread per row, a plain loop there, is what a CPU wants.
const bool registered_row =
    KernelBackendRegistry::register_backend("softmax", "row", BackendDevices::HostOnly);
const bool registered_graph = KernelBackendRegistry::register_backend("softmax", "mpsgraph");
constexpr uint32_t kVecRowsPerThreadgroup = 4;

/// softmax(scale · x + masks) over the last axis, in the accumulator dtype.
graph::Graph build_softmax_graph(const GraphKernelKey& key) {
  graph::Graph g;
  graph::NodeId x = g.scale(accumulator_input(g, key, 0, "x"), key.attribute("scale"));
  if (key.inputs[1].present) x = g.additive_mask(x, accumulator_input(g, key, 1, "mask"));
  if (key.inputs[2].present) x = g.additive_mask(x, accumulator_input(g, key, 2, "causal_mask"));
  const graph::NodeId out = g.softmax(x, -1);
  set_storage_output(g, key, out);
  return g;
}

const GraphKernel& graph_kernel = GraphKernel::register_kernel(
    "softmax",
    {{{"x", "(..., Lk), (..., Lq, Lk) with a causal mask", false, "scores"},
      {"mask", "broadcast to x", true, "additive: 0 keeps, -inf hides"},
      {"causal_mask", "(Lq, Lk)", true,
       "the MaskArena's causal mask: key k hidden from query q when k > q + Lk - Lq"}},
     {{"out", "x's shape", false, "softmax(scale · x + masks) over the last axis"}},
     {{DType::F32, DType::F32}, {DType::F16, DType::F32}},
     {"attributes: scale", "rows with no visible key give 0"}},
    build_softmax_graph);
}  // namespace

std::pair<SoftmaxOp::Operation, Tensor> SoftmaxOp::create(Context& ctx, const Args& args) {
  const Tensor& x = args.x;
  check_float_input(name, "x", x);
  if (x.ndim() == 0) throw ShapeError("softmax: x must have at least one dimension");
  if (args.causal && x.ndim() < 2) {
    throw ShapeError("softmax: causal needs x of shape [..., Lq, Lk], got " + shape_str(x.shape()));
  }
  Operation op;
  op.x = x;
  const int64_t n = x.dim(-1);
  op.n = static_cast<uint32_t>(n);
  op.rows = n == 0 ? 0 : static_cast<uint32_t>(x.numel() / n);
  op.causal = args.causal;
  op.lq = args.causal ? static_cast<uint32_t>(x.dim(-2)) : 1;
  op.scale = static_cast<float>(args.scale);
  std::fill(op.lead, op.lead + 3, 1u);
  std::fill(op.mask_stride, op.mask_stride + 3, 0u);
  bool aligned = n % 4 == 0 && vec4_aligned(x);
  if (args.mask) {
    const Tensor& mask = *args.mask;
    check_float_input(name, "mask", mask);
    check_same_dtype(name, "mask", mask, x);
    if (x.ndim() > 4) throw ShapeError("softmax: with a mask, x may have at most 4 dimensions");
    const Shape& ms = mask.shape();
    const std::string bad = "softmax: mask of shape " + shape_str(ms) +
                            " does not broadcast to x's " + shape_str(x.shape()) +
                            " (its last dimension must equal x's, the others x's or 1)";
    if (ms.size() > x.ndim() || ms.size() == 0 || ms.back() != n) throw ShapeError(bad);
    // x's leading dims right-aligned into lead[3]; the mask's strides (in rows) along them.
    const size_t lead_dims = x.ndim() - 1;
    uint32_t stride = 1;
    for (size_t k = 0; k < lead_dims; k++) {
      const size_t xd = x.ndim() - 2 - k;  // walking from the innermost leading dim outwards
      const int64_t size = x.dim(static_cast<int64_t>(xd));
      op.lead[2 - k] = static_cast<uint32_t>(size);
      const int64_t md = static_cast<int64_t>(xd) - static_cast<int64_t>(x.ndim() - ms.size());
      const int64_t msize = md >= 0 ? ms[static_cast<size_t>(md)] : 1;
      if (msize != size && msize != 1) throw ShapeError(bad);
      op.mask_stride[2 - k] = msize == 1 ? 0 : stride;
      stride *= static_cast<uint32_t>(msize);
    }
    op.mask = mask;
    aligned = aligned && vec4_aligned(mask);
  }
  op.vec4 = aligned ? 1 : 0;

  op.backend = ctx.backends().select("softmax", ctx.device().kind(), [&] {
    using Choice = BackendSelector::Choice;
    if (ctx.device().kind() == DeviceKind::Host) {
      return Choice{"row",
                    "host device: a thread per row runs as a plain loop, without the "
                    "fibers that SIMD-group reductions need"};
    }
    const std::string len = "row length " + std::to_string(n);
    const std::string limit = std::to_string(kVecMaxRow);
    return n <= kVecMaxRow
               ? Choice{"vec", len + " <= " + limit + ": one SIMD group holds a row in registers"}
               : Choice{"block", len + " > " + limit + ": one threadgroup per row, online max/sum"};
  });
  if (op.backend == "vec" && n > kVecMaxRow) {
    throw ArgumentError("softmax: the vec backend handles rows of up to " +
                        std::to_string(kVecMaxRow) + " elements, got " + std::to_string(n) +
                        "; use the block backend or auto");
  }
  if (op.backend == "mpsgraph") {
    std::optional<Tensor> causal_mask;
    if (args.causal) {
      causal_mask = ctx.resources().get_or_create_mpsgraph_mask(ctx, MaskKind::Causal, x.dim(-2), n,
                                                                x.dtype());
    }
    op.graph = prepare_graph_kernel_call(ctx, graph_kernel, {x, args.mask, causal_mask},
                                         default_graph_policy(x.dtype()), {{"scale", args.scale}});
    Tensor out = op.graph->outputs[0];
    return {std::move(op), std::move(out)};
  }
  op.function = softmax_kernels.get(op.backend.c_str(), x.dtype());
  if (op.backend == "block") {  // about 32 elements per thread, 32..1024 threads
    op.threads = static_cast<uint32_t>(std::clamp<int64_t>((n + 1023) / 1024 * 32, 32, 1024));
    op.rows_per_group = rows_per_threadgroup(ctx, op.rows);
  } else if (op.backend == "vec") {
    op.threads = 32 * kVecRowsPerThreadgroup;
    op.rows_per_group =
        rows_per_threadgroup(ctx, (op.rows + kVecRowsPerThreadgroup - 1) / kVecRowsPerThreadgroup);
  } else {  // row
    op.threads = row_kernel_threadgroup_width(op.rows);
    op.rows_per_group = 1;
  }
  op.out = ctx.tensor(x.dtype(), x.shape());
  Tensor out = op.out;
  return {std::move(op), std::move(out)};
}

void SoftmaxOp::Operation::bind_kernel_args(ComputeKernelEncoder& e) const {
  SoftmaxParams p{};
  p.n = n;
  p.rows = rows;
  p.rows_per_group = rows_per_group;
  p.lq = lq;
  p.causal = causal ? 1 : 0;
  p.has_mask = mask.defined() ? 1 : 0;
  std::copy(lead, lead + 3, p.lead);
  std::copy(mask_stride, mask_stride + 3, p.mask_stride);
  p.vec4 = vec4;
  p.scale = scale;
  e.buffer(0, x).buffer(2, out).bytes(3, p);
  if (mask.defined()) e.buffer(1, mask);
}

void SoftmaxOp::Operation::encode(ComputeKernelEncoder& e) const {
  if (graph) {
    graph->encode(e);
    return;
  }
  if (rows == 0) return;
  e.pipeline(function).bind_kernel(*this);
  if (backend == "row") {
    e.dispatch_1d(rows, threads);
    return;
  }
  // vec: rows_per_group steps of kVecRowsPerThreadgroup rows; block: rows_per_group rows.
  const uint32_t per_group = rows_per_group * (backend == "vec" ? kVecRowsPerThreadgroup : 1);
  e.dispatch_custom({(rows + per_group - 1) / per_group, 1, 1}, {threads, 1, 1});
}

METALLIC_REGISTER_OP(
    SoftmaxOp, "softmax",
    "softmax(scale * x + mask) over the last axis; causal hides key k from query q when "
    "k > q + Lk - Lq (aligned bottom-right, as in decode); rows with no visible key are 0. "
    "Backends: vec (rows <= 1024), block (any length), row (host device), mpsgraph; auto picks row "
    "on the host device, else by row length.",
    METALLIC_ARG(x, "scores [..., Lk] ([..., Lq, Lk] with causal)"),
    METALLIC_ARG(scale, "multiplies x before the mask is added"),
    METALLIC_ARG(causal, "hide keys after each query (bottom-right aligned)"),
    METALLIC_ARG(mask, "additive mask broadcastable to x (x's dtype; -inf hides), or None"));

}  // namespace metallic
