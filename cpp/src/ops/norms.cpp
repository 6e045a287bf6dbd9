// Host side of metal/norms: validation, threadgroup size, binding.
#include "metallic/ops/norms.hpp"

#include <algorithm>
#include <string>

#include "float_input.hpp"
#include "metallic/backend_registry.hpp"
#include "metallic/error.hpp"
#include "metallic/op_registry.hpp"

namespace metallic {

namespace {
using uint = uint32_t;
#include "norms/params.h"

const KernelVariants rms_kernels("rms_norm", {"", "add", "row", "add_row"});
const KernelVariants layer_kernels("layer_norm", {"", "add", "row", "add_row"});
// Backends (the fused add_ forms follow their norm's choice): `threadgroup`, a threadgroup per
// row, everywhere; `row`, a thread per row, on the host device, where every GPU thread of a kernel
// with SIMD-group reductions is a fiber and each reduction costs each fiber a switch.
const bool registered =
    KernelBackendRegistry::register_backend("rms_norm", "threadgroup") &&
    KernelBackendRegistry::register_backend("rms_norm", "row", BackendDevices::HostOnly) &&
    KernelBackendRegistry::register_backend("layer_norm", "threadgroup") &&
    KernelBackendRegistry::register_backend("layer_norm", "row", BackendDevices::HostOnly);

/// Checks one per-column parameter (weight, bias): [N], x's dtype.
void check_column_param(const char* op, const char* arg, const Tensor& t, const Tensor& x) {
  check_float_input(op, arg, t);
  check_same_dtype(op, arg, t, x);
  if (t.ndim() != 1 || t.dim(0) != x.dim(-1)) {
    throw ShapeError(std::string(op) + ": " + arg + " must be [" + std::to_string(x.dim(-1)) +
                     "] (x's last dimension), got " + shape_str(t.shape()));
  }
}

/// Validates the inputs, allocates the outputs and fills in the operation. `residual` and `bias`
/// may be undefined (not used by the op).
NormOperation make_norm(Context& ctx, const char* op, const char* backend_op,
                        const KernelVariants& kernels, const Tensor& x, const Tensor* residual,
                        const Tensor& weight, const Tensor* bias, double eps) {
  check_float_input(op, "x", x);
  if (x.ndim() == 0) throw ShapeError(std::string(op) + ": x must have at least one dimension");
  check_column_param(op, "weight", weight, x);
  if (bias) check_column_param(op, "bias", *bias, x);
  if (residual) {
    check_float_input(op, "residual", *residual);
    check_same_dtype(op, "residual", *residual, x);
    if (residual->shape() != x.shape()) {
      throw ShapeError(std::string(op) + ": residual's shape " + shape_str(residual->shape()) +
                       " must equal x's " + shape_str(x.shape()));
    }
  }
  if (!(eps >= 0)) throw ArgumentError(std::string(op) + ": eps must be >= 0");
  const int64_t n = x.dim(-1);
  NormOperation o;
  o.x = x;
  o.weight = weight;
  o.out = ctx.tensor(x.dtype(), x.shape());
  if (residual) {
    o.residual = *residual;
    o.sum = ctx.tensor(x.dtype(), x.shape());
  }
  if (bias) o.bias = *bias;
  const std::string backend = ctx.backends().select(backend_op, ctx.device().kind(), [&] {
    return ctx.device().kind() == DeviceKind::Host
               ? BackendSelector::Choice{"row",
                                         "host device: a thread per row runs as a plain "
                                         "loop, without the fibers of SIMD reductions"}
               : BackendSelector::Choice{"threadgroup", "a threadgroup per row"};
  });
  o.thread_per_row = backend == "row";
  const std::string form =
      std::string(residual ? "add" : "") + (o.thread_per_row ? (residual ? "_row" : "row") : "");
  o.function = kernels.get(form.c_str(), x.dtype());
  o.rows = n == 0 ? 0 : static_cast<uint32_t>(x.numel() / n);
  o.n = static_cast<uint32_t>(n);
  o.rows_per_group = o.thread_per_row ? 1 : rows_per_threadgroup(ctx, o.rows);
  bool aligned = n % 4 == 0 && vec4_aligned(x) && vec4_aligned(weight);
  if (residual) aligned = aligned && vec4_aligned(*residual);
  if (bias) aligned = aligned && vec4_aligned(*bias);
  o.vec4 = aligned ? 1 : 0;
  // About 32 elements per thread: one SIMD group up to 1024 columns, 1024 threads from 32768.
  o.threads = static_cast<uint32_t>(std::clamp<int64_t>((n + 1023) / 1024 * 32, 32, 1024));
  o.eps = static_cast<float>(eps);
  return o;
}
}  // namespace

void NormOperation::bind_kernel_args(ComputeKernelEncoder& e) const {
  const NormParams params{n, rows, rows_per_group, vec4, eps};
  e.buffer(0, x).buffer(2, weight).buffer(4, out).bytes(6, params);
  if (residual.defined()) e.buffer(1, residual).buffer(5, sum);
  if (bias.defined()) e.buffer(3, bias);
}

void NormOperation::encode(ComputeKernelEncoder& e) const {
  if (rows == 0) return;
  if (thread_per_row) {
    e.pipeline(function).bind_kernel(*this).dispatch_1d(rows, row_kernel_threadgroup_width(rows));
    return;
  }
  const uint32_t groups = (rows + rows_per_group - 1) / rows_per_group;
  e.pipeline(function).bind_kernel(*this).dispatch_custom({groups, 1, 1}, {threads, 1, 1});
}

std::pair<RmsNormOp::Operation, Tensor> RmsNormOp::create(Context& ctx, const Args& args) {
  NormOperation o = make_norm(ctx, name, "rms_norm", rms_kernels, args.x, nullptr, args.weight,
                              nullptr, args.eps);
  Tensor out = o.out;
  return {std::move(o), std::move(out)};
}

std::pair<AddRmsNormOp::Operation, std::vector<Tensor>> AddRmsNormOp::create(Context& ctx,
                                                                             const Args& args) {
  NormOperation o = make_norm(ctx, name, "rms_norm", rms_kernels, args.x, &args.residual,
                              args.weight, nullptr, args.eps);
  std::vector<Tensor> outs{o.out, o.sum};
  return {std::move(o), std::move(outs)};
}

std::pair<LayerNormOp::Operation, Tensor> LayerNormOp::create(Context& ctx, const Args& args) {
  NormOperation o = make_norm(ctx, name, "layer_norm", layer_kernels, args.x, nullptr, args.weight,
                              &args.bias, args.eps);
  Tensor out = o.out;
  return {std::move(o), std::move(out)};
}

std::pair<AddLayerNormOp::Operation, std::vector<Tensor>> AddLayerNormOp::create(Context& ctx,
                                                                                 const Args& args) {
  NormOperation o = make_norm(ctx, name, "layer_norm", layer_kernels, args.x, &args.residual,
                              args.weight, &args.bias, args.eps);
  std::vector<Tensor> outs{o.out, o.sum};
  return {std::move(o), std::move(outs)};
}

METALLIC_REGISTER_OP(RmsNormOp, "rms_norm",
                     "x / sqrt(mean(x^2) + eps) * weight over the last axis (f32 accumulation, "
                     "rounded once).",
                     METALLIC_ARG(x, "input [..., N]"), METALLIC_ARG(weight, "scale [N]"),
                     METALLIC_ARG(eps, "added to the mean square"));
METALLIC_REGISTER_OP(AddRmsNormOp, "add_rms_norm",
                     "(rms_norm(h, weight, eps), h) with h = x + residual rounded to x's dtype: "
                     "the fused residual add of a transformer block, returning the new residual "
                     "stream h too.",
                     METALLIC_ARG(x, "input [..., N]"),
                     METALLIC_ARG(residual, "added to x, like x"),
                     METALLIC_ARG(weight, "scale [N]"),
                     METALLIC_ARG(eps, "added to the mean square"));
METALLIC_REGISTER_OP(LayerNormOp, "layer_norm",
                     "(x - mean) / sqrt(var + eps) * weight + bias over the last axis (biased "
                     "variance, as torch; f32 accumulation, rounded once).",
                     METALLIC_ARG(x, "input [..., N]"), METALLIC_ARG(weight, "scale [N]"),
                     METALLIC_ARG(bias, "shift [N]"), METALLIC_ARG(eps, "added to the variance"));
METALLIC_REGISTER_OP(AddLayerNormOp, "add_layer_norm",
                     "(layer_norm(h, weight, bias, eps), h) with h = x + residual rounded to x's "
                     "dtype (post-norm blocks such as BERT's keep h as the next residual).",
                     METALLIC_ARG(x, "input [..., N]"),
                     METALLIC_ARG(residual, "added to x, like x"),
                     METALLIC_ARG(weight, "scale [N]"), METALLIC_ARG(bias, "shift [N]"),
                     METALLIC_ARG(eps, "added to the variance"));

}  // namespace metallic
