// Host side of the creation ops: shape and value checks, the output, the kernel's parameters.
#include "metallic/ops/creation.hpp"

#include <cmath>
#include <limits>
#include <string>

#include "metallic/error.hpp"
#include "metallic/kernel_variants.hpp"
#include "strided_copy.hpp"
#include "strided_fill.hpp"

namespace metallic {

namespace {

using creation_kernel::ArangeParams;
using creation_kernel::RandomParams;

Shape checked_shape(const char* op, const std::vector<int64_t>& dims) {
  if (dims.size() > Shape::kMaxDims) {
    throw ShapeError(std::string(op) + ": at most " + std::to_string(Shape::kMaxDims) +
                     " dimensions, got " + std::to_string(dims.size()));
  }
  double n = 1;
  for (int64_t d : dims) {
    if (d < 0) {
      throw ShapeError(std::string(op) + ": negative dimension in shape " +
                       shape_str(Shape(dims.begin(), dims.end())));
    }
    n *= static_cast<double>(d);
  }
  if (n > std::numeric_limits<uint32_t>::max()) {
    throw ShapeError(std::string(op) + ": tensors of 2^32 elements or more are not supported");
  }
  return Shape(dims.begin(), dims.end());
}

/// A one-dispatch op over a contiguous output: `threads` threads, params at [[buffer(1)]].
template <class Params>
struct OutputDispatch {
  Tensor out;
  KernelFunction function;
  Params params;
  uint32_t threads;

  void encode(ComputeKernelEncoder& e) const {
    if (threads == 0) return;
    e.pipeline(function).buffer(0, out).bytes(1, params).dispatch_1d(threads, 256);
  }
};

std::pair<DispatchList, Tensor> filled(const char* op, Context& ctx,
                                       const std::vector<int64_t>& dims, double value,
                                       DType dtype) {
  check_copy_dtype(op, "dtype", dtype);
  Tensor out = ctx.tensor(dtype, checked_shape(op, dims));
  DispatchList list;
  list.add(StridedFill::plan(op, out, value));
  return {std::move(list), std::move(out)};
}

RandomParams random_params(const char* op, int64_t seed, double shift, double scale) {
  if (seed < 0) {
    throw ArgumentError(std::string(op) + ": seed must be non-negative, got " +
                        std::to_string(seed));
  }
  const auto s = static_cast<uint64_t>(seed);
  return RandomParams{0, static_cast<uint32_t>(s), static_cast<uint32_t>(s >> 32),
                      static_cast<float>(shift), static_cast<float>(scale)};
}

void check_float(const char* op, DType dtype) {
  if (!dtype_is_float(dtype)) {
    throw DTypeError(std::string(op) + ": dtype must be f32, f16 or bf16, got " +
                     dtype_name(dtype));
  }
}

std::pair<DispatchList, Tensor> random(const char* op, const KernelVariants& kernels, Context& ctx,
                                       const std::vector<int64_t>& dims, DType dtype,
                                       RandomParams params) {
  const KernelFunction fn = kernels.get("", dtype);
  Tensor out = ctx.tensor(dtype, checked_shape(op, dims));
  params.n = static_cast<uint32_t>(out.numel());
  DispatchList list;
  list.add(OutputDispatch<RandomParams>{out, fn, params, (params.n + 3) / 4});
  return {std::move(list), std::move(out)};
}

void check_finite(const char* op, const char* what, double v) {
  if (!std::isfinite(v)) {
    throw ArgumentError(std::string(op) + ": " + what + " must be finite, got " +
                        std::to_string(v));
  }
}

}  // namespace

std::pair<FullOp::Operation, Tensor> FullOp::create(Context& ctx, const Args& args) {
  return filled(name, ctx, args.shape, args.value, args.dtype);
}

std::pair<ZerosOp::Operation, Tensor> ZerosOp::create(Context& ctx, const Args& args) {
  return filled(name, ctx, args.shape, 0.0, args.dtype);
}

std::pair<OnesOp::Operation, Tensor> OnesOp::create(Context& ctx, const Args& args) {
  return filled(name, ctx, args.shape, 1.0, args.dtype);
}

std::pair<ArangeOp::Operation, Tensor> ArangeOp::create(Context& ctx, const Args& args) {
  const double start = args.stop ? args.start : 0.0;
  const double stop = args.stop ? *args.stop : args.start;
  const double step = args.step;
  check_finite(name, "start", start);
  check_finite(name, "stop", stop);
  check_finite(name, "step", step);
  if (step == 0) throw ArgumentError("arange: step must not be 0");
  const bool integral =
      std::trunc(start) == start && std::trunc(stop) == stop && std::trunc(step) == step;
  const DType dtype = args.dtype.value_or(integral ? DType::I32 : DType::F32);
  check_copy_dtype(name, "dtype", dtype);
  const double count = std::max(0.0, std::ceil((stop - start) / step));
  if (count > std::numeric_limits<uint32_t>::max()) {
    throw ShapeError("arange: " + std::to_string(count) + " elements; at most 2^32 - 1");
  }
  const auto n = static_cast<uint32_t>(count);
  ArangeParams p{n, static_cast<float>(start), static_cast<float>(step), 0, 0};
  if (!dtype_is_float(dtype)) {
    if (std::trunc(start) != start || std::trunc(step) != step) {
      throw ArgumentError(std::string("arange: an integer dtype (") + dtype_name(dtype) +
                          ") needs an integer start and step; pass dtype='f32' for fractions");
    }
    // Both ends must fit the dtype (scalar_bits says so otherwise); the kernel works modulo 2^32.
    scalar_bits(name, start, dtype);
    if (n > 0) scalar_bits(name, start + step * (n - 1), dtype);
    p.istart = static_cast<uint32_t>(static_cast<int64_t>(start));
    p.istep = static_cast<uint32_t>(static_cast<int64_t>(step));
  }
  static const KernelVariants kernels("arange", {""});
  Tensor out = ctx.tensor(dtype, {static_cast<int64_t>(n)});
  DispatchList list;
  list.add(OutputDispatch<ArangeParams>{out, kernels.get("", dtype), p, n});
  return {std::move(list), std::move(out)};
}

std::pair<RandomBitsOp::Operation, Tensor> RandomBitsOp::create(Context& ctx, const Args& args) {
  static const KernelVariants kernels("random_bits", {""});
  return random(name, kernels, ctx, args.shape, DType::U32, random_params(name, args.seed, 0, 0));
}

std::pair<RandomUniformOp::Operation, Tensor> RandomUniformOp::create(Context& ctx,
                                                                      const Args& args) {
  check_finite(name, "low", args.low);
  check_finite(name, "high", args.high);
  if (!(args.low <= args.high)) {
    throw ArgumentError("random_uniform: low (" + std::to_string(args.low) +
                        ") must not exceed high (" + std::to_string(args.high) + ")");
  }
  check_float(name, args.dtype);
  static const KernelVariants kernels("random_uniform", {""});
  return random(name, kernels, ctx, args.shape, args.dtype,
                random_params(name, args.seed, args.low, args.high - args.low));
}

std::pair<RandomNormalOp::Operation, Tensor> RandomNormalOp::create(Context& ctx,
                                                                    const Args& args) {
  check_finite(name, "loc", args.loc);
  check_finite(name, "scale", args.scale);
  if (args.scale < 0) throw ArgumentError("random_normal: scale must be >= 0");
  check_float(name, args.dtype);
  static const KernelVariants kernels("random_normal", {""});
  return random(name, kernels, ctx, args.shape, args.dtype,
                random_params(name, args.seed, args.loc, args.scale));
}

METALLIC_REGISTER_OP(FullOp, "full", "A tensor of shape filled with value (numpy's full).",
                     METALLIC_REQUIRED(shape, "dimensions"),
                     METALLIC_REQUIRED(value, "fill value (must fit an integer dtype)"),
                     METALLIC_ARG(dtype, "element type"));
METALLIC_REGISTER_OP(ZerosOp, "zeros", "A tensor of shape filled with 0.",
                     METALLIC_REQUIRED(shape, "dimensions"), METALLIC_ARG(dtype, "element type"));
METALLIC_REGISTER_OP(OnesOp, "ones", "A tensor of shape filled with 1.",
                     METALLIC_REQUIRED(shape, "dimensions"), METALLIC_ARG(dtype, "element type"));
METALLIC_REGISTER_OP(ArangeOp, "arange",
                     "numpy's arange: start, start + step, ... below stop; arange(n) is 0..n-1. "
                     "dtype None: i32 when start, stop and step are whole numbers, else f32.",
                     METALLIC_ARG(start, "first value (the stop when stop is None)"),
                     METALLIC_ARG(stop, "end, excluded"), METALLIC_ARG(step, "increment, not 0"),
                     METALLIC_ARG(dtype, "element type (None: i32 or f32, see above)"));
METALLIC_REGISTER_OP(RandomBitsOp, "random_bits",
                     "Raw Philox4x32-10 output (u32): element i is word i % 4 of the block with "
                     "counter (i // 4, 0, 0, 0) and key (seed % 2^32, seed // 2^32).",
                     METALLIC_REQUIRED(shape, "dimensions"),
                     METALLIC_ARG(seed, "non-negative; the same seed gives the same numbers"));
METALLIC_REGISTER_OP(RandomUniformOp, "random_uniform",
                     "Uniform numbers in [low, high) from random_bits: low + (high - low) * "
                     "(bits >> 8) / 2^24 in f32, rounded to dtype (which may reach high).",
                     METALLIC_REQUIRED(shape, "dimensions"),
                     METALLIC_ARG(seed, "non-negative; the same seed gives the same numbers"),
                     METALLIC_ARG(low, "lower bound, included"),
                     METALLIC_ARG(high, "upper bound, excluded"),
                     METALLIC_ARG(dtype, "f32, f16 or bf16"));
METALLIC_REGISTER_OP(RandomNormalOp, "random_normal",
                     "Normal numbers loc + scale * z, z by Box-Muller from pairs of random_bits.",
                     METALLIC_REQUIRED(shape, "dimensions"),
                     METALLIC_ARG(seed, "non-negative; the same seed gives the same numbers"),
                     METALLIC_ARG(loc, "mean"), METALLIC_ARG(scale, "standard deviation, >= 0"),
                     METALLIC_ARG(dtype, "f32, f16 or bf16"));

}  // namespace metallic
