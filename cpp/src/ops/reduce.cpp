// Host side of metal/reduce: axes, the kept/reduced split of x's layout, and the kernel form.
#include "metallic/ops/reduce.hpp"

#include <cstring>
#include <limits>
#include <string>

#include "metallic/error.hpp"
#include "metallic/kernel.hpp"
#include "metallic/op_registry.hpp"
#include "strided_layout.hpp"

namespace metallic {

namespace {
using uint = uint32_t;
#include "reduce/params.h"

// Outputs below this many, with more than kPartialMin elements each, reduce in two dispatches
// (chunks of an output in parallel, then the chunks' results) so that the GPU fills up.
constexpr int64_t kPartialMaxOutputs = 128;
constexpr int64_t kPartialMin = 65536;
// Contiguous reductions of fewer elements use a thread per output rather than a SIMD group.
constexpr int64_t kRowsMin = 128;
// The rows form runs at least this many SIMD groups (enough to fill the GPU) and gives each
// several outputs beyond that (fewer threads: cheaper on the host device).
constexpr int64_t kRowsGroups = 1024;
constexpr int64_t kChunkMin = 16384;
constexpr int64_t kMaxChunks = 1024;

/// Dimensions `shape` with `strides` collapsed (collapse_dims) into the kernel's arrays.
void collapse(const Shape& sizes, const Shape& steps, uint* shape, uint* strides, uint& ndim) {
  const CollapsedDims c = collapse_dims(sizes, {steps});
  ndim = static_cast<uint>(c.shape.size());
  for (size_t d = 0; d < c.shape.size(); ++d) {
    shape[d] = static_cast<uint>(c.shape[d]);
    strides[d] = static_cast<uint>(c.strides[0][d]);
  }
}

/// Plans reducing x over the axes flagged in `reduced`; sets `out_shape` and `bound_x`, the
/// tensor to bind for x (its forward binding).
ReducePlan plan(Context& ctx, const char* name, const KernelVariants& kernels, bool arg,
                bool has_identity, const Tensor& x, const std::vector<bool>& reduced, bool keepdims,
                Shape& out_shape, Tensor& bound_x) {
  constexpr int64_t kMax = std::numeric_limits<uint32_t>::max();
  const ForwardBinding binding = forward_binding(name, "x", x);
  bound_x = binding.tensor;
  Shape kept_shape, kept_strides, red_shape, red_strides;
  int64_t outputs = 1, count = 1;
  out_shape = Shape();
  for (size_t d = 0; d < x.ndim(); ++d) {
    const int64_t size = x.shape()[d];
    if (reduced[d]) {
      red_shape.push_back(size);
      red_strides.push_back(x.strides()[d]);
      count *= size;
      if (keepdims) out_shape.push_back(1);
    } else {
      kept_shape.push_back(size);
      kept_strides.push_back(x.strides()[d]);
      outputs *= size;
      out_shape.push_back(size);
    }
  }
  if (x.numel() > kMax) throw ShapeError(std::string(name) + ": x spans more than 2^32-1 elements");
  if (count == 0 && outputs > 0 && !has_identity) {
    throw ShapeError(std::string(name) +
                     ": cannot reduce over a zero-size axis (the result has no identity); "
                     "reduce over non-empty axes");
  }
  ReduceParams p{};
  p.outputs = static_cast<uint>(outputs);
  p.base = binding.base;
  p.red_n = static_cast<uint>(count);
  collapse(kept_shape, kept_strides, p.kept_shape, p.kept_strides, p.kept_ndim);
  collapse(red_shape, red_strides, p.red_shape, p.red_strides, p.red_ndim);

  ReducePlan plan;
  plan.outputs = p.outputs;
  const bool contiguous = p.red_ndim == 1 && (p.red_strides[0] == 1 || p.red_shape[0] == 1);
  if (contiguous && count >= kPartialMin && outputs < kPartialMaxOutputs) {
    plan.form = ReducePlan::Form::Partial;
    int64_t chunk = std::max(kChunkMin, (count + kMaxChunks - 1) / kMaxChunks);
    chunk = (chunk + 127) / 128 * 128;
    p.chunk = static_cast<uint>(chunk);
    p.chunks = static_cast<uint>((count + chunk - 1) / chunk);
    plan.chunks = p.chunks;
    plan.main = kernels.get("partial", x.dtype());
    plan.finish = kernels.get("finish", x.dtype());
    const DType acc = dtype_is_float(x.dtype()) ? DType::F32 : x.dtype();
    plan.partials = ctx.tensor(acc, {outputs, int64_t(p.chunks)});
    if (arg) plan.indices = ctx.tensor(DType::U32, {outputs, int64_t(p.chunks)});
  } else if (contiguous && count >= kRowsMin) {
    plan.form = ReducePlan::Form::Rows;
    plan.main = kernels.get("rows", x.dtype());
    p.group_rows = static_cast<uint>(std::max<int64_t>(1, outputs / kRowsGroups));
    plan.groups = static_cast<uint32_t>((outputs + p.group_rows - 1) / p.group_rows);
  } else {
    plan.form = ReducePlan::Form::Strided;
    plan.main = kernels.get("strided", x.dtype());
  }
  plan.params.resize(sizeof(p));
  std::memcpy(plan.params.data(), &p, sizeof(p));
  return plan;
}

/// Axis flags from `axis` (None: all); throws ArgumentError for out-of-range or repeated axes.
std::vector<bool> reduced_axes(const char* name, const Tensor& x,
                               const std::optional<std::vector<int64_t>>& axis) {
  const auto ndim = static_cast<int64_t>(x.ndim());
  std::vector<bool> reduced(x.ndim(), !axis.has_value());
  if (!axis) return reduced;
  for (int64_t a : *axis) {
    if (a < -ndim || a >= ndim) {
      throw ArgumentError(std::string(name) + ": axis " + std::to_string(a) +
                          " is out of range for a tensor of " + std::to_string(ndim) +
                          " dimensions (use -" + std::to_string(ndim) + " to " +
                          std::to_string(ndim - 1) + ")");
    }
    const auto d = static_cast<size_t>(a < 0 ? a + ndim : a);
    if (reduced[d]) {
      throw ArgumentError(std::string(name) + ": axis " + std::to_string(a) + " is repeated");
    }
    reduced[d] = true;
  }
  return reduced;
}

void check_defined(const char* name, const Tensor& x) {
  if (!x.defined()) throw ArgumentError(std::string(name) + ": undefined tensor");
}
}  // namespace

void ReduceOperation::encode(ComputeKernelEncoder& e) const {
  const void* params = plan.params.data();
  const size_t size = plan.params.size();
  const uint32_t simd = METALLIC_REDUCE_SIMD;
  switch (plan.form) {
    case ReducePlan::Form::Rows:
      e.pipeline(plan.main).buffer(0, x).buffer(1, out).bytes(2, params, size);
      e.dispatch_custom({plan.groups, 1, 1}, {simd, 1, 1});
      break;
    case ReducePlan::Form::Partial:
      e.pipeline(plan.main).buffer(0, x).buffer(1, plan.partials).bytes(2, params, size);
      if (plan.indices.defined()) e.buffer(3, plan.indices);
      e.dispatch_custom({plan.chunks, plan.outputs, 1}, {simd, 1, 1});
      e.pipeline(plan.finish).buffer(0, plan.partials).buffer(1, out).bytes(2, params, size);
      if (plan.indices.defined()) e.buffer(3, plan.indices);
      e.dispatch_custom({plan.outputs, 1, 1}, {simd, 1, 1});
      break;
    case ReducePlan::Form::Strided:
      e.pipeline(plan.main).buffer(0, x).buffer(1, out).bytes(2, params, size);
      e.dispatch_1d(plan.outputs, 64);
      break;
  }
}

template <class Derived>
std::pair<ReduceOperation, Tensor> ReduceOp<Derived>::create(Context& ctx, const Args& args) {
  check_defined(Derived::name, args.x);
  Shape out_shape;
  Tensor x;
  ReducePlan p = plan(ctx, Derived::name, Derived::kernels, false, Derived::has_identity, args.x,
                      reduced_axes(Derived::name, args.x, args.axis), args.keepdims, out_shape, x);
  Tensor out = ctx.tensor(args.x.dtype(), out_shape);
  return {ReduceOperation{x, out, std::move(p)}, out};
}

template <class Derived>
std::pair<ReduceOperation, Tensor> ArgReduceOp<Derived>::create(Context& ctx, const Args& args) {
  check_defined(Derived::name, args.x);
  std::optional<std::vector<int64_t>> axes;
  if (args.axis) axes = std::vector<int64_t>{*args.axis};
  Shape out_shape;
  Tensor x;
  ReducePlan p = plan(ctx, Derived::name, Derived::kernels, true, false, args.x,
                      reduced_axes(Derived::name, args.x, axes), args.keepdims, out_shape, x);
  Tensor out = ctx.tensor(DType::I32, out_shape);
  return {ReduceOperation{x, out, std::move(p)}, out};
}

#define METALLIC_REDUCE_KERNELS(Type, Base, base)                                     \
  const KernelVariants Type::kernels(base, {"rows", "partial", "finish", "strided"}); \
  template struct Base<Type>
METALLIC_REDUCE_KERNELS(SumOp, ReduceOp, "reduce_sum");
METALLIC_REDUCE_KERNELS(MeanOp, ReduceOp, "reduce_mean");
METALLIC_REDUCE_KERNELS(MaxOp, ReduceOp, "reduce_max");
METALLIC_REDUCE_KERNELS(MinOp, ReduceOp, "reduce_min");
METALLIC_REDUCE_KERNELS(ArgmaxOp, ArgReduceOp, "reduce_argmax");
METALLIC_REDUCE_KERNELS(ArgminOp, ArgReduceOp, "reduce_argmin");
#undef METALLIC_REDUCE_KERNELS

#define METALLIC_REDUCE_REGISTER(Type, py_name, doc, axis_doc)                    \
  METALLIC_REGISTER_OP(Type, py_name, doc, METALLIC_ARG(x, "input (any layout)"), \
                       METALLIC_ARG(axis, axis_doc),                              \
                       METALLIC_ARG(keepdims, "keep reduced axes as size-1 dimensions"))
#define METALLIC_AXES_DOC "axis or axes to reduce (None: all)"
METALLIC_REDUCE_REGISTER(SumOp, "sum", "Sum over axes (f16/bf16 accumulate in f32).",
                         METALLIC_AXES_DOC);
METALLIC_REDUCE_REGISTER(MeanOp, "mean", "Mean over axes (f16/bf16 accumulate in f32).",
                         METALLIC_AXES_DOC);
METALLIC_REDUCE_REGISTER(MaxOp, "max", "Maximum over axes (NaN if any element is NaN).",
                         METALLIC_AXES_DOC);
METALLIC_REDUCE_REGISTER(MinOp, "min", "Minimum over axes (NaN if any element is NaN).",
                         METALLIC_AXES_DOC);
METALLIC_REDUCE_REGISTER(ArgmaxOp, "argmax",
                         "i32 index of the first maximum along an axis (a NaN counts as one).",
                         "axis (None: index into the flattened tensor)");
METALLIC_REDUCE_REGISTER(ArgminOp, "argmin",
                         "i32 index of the first minimum along an axis (a NaN counts as one).",
                         "axis (None: index into the flattened tensor)");

}  // namespace metallic
