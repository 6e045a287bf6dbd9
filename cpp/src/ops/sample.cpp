// Host side of metal/sample: validation, the generator's key and counter, binding.
#include "metallic/ops/sample.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "metallic/error.hpp"
#include "metallic/kernel_variants.hpp"
#include "metallic/op_registry.hpp"

namespace metallic {

namespace {
const KernelVariants kKernels("sample", {""});
constexpr uint32_t kMaxThreads = 256;  // metal/sample/kernel.metal
}  // namespace

std::pair<SampleOp::Operation, Tensor> SampleOp::create(Context& ctx, const Args& args) {
  const Tensor& logits = args.logits;
  if (!logits.defined()) throw ArgumentError("sample: logits is undefined");
  if (!dtype_is_float(logits.dtype())) {
    throw DTypeError(std::string("sample: logits must be f32, f16 or bf16, got ") +
                     dtype_name(logits.dtype()));
  }
  if (logits.ndim() == 0 || logits.dim(-1) == 0) {
    throw ShapeError("sample: logits must be [..., vocab] with vocab >= 1, got " +
                     shape_str(logits.shape()));
  }
  if (!logits.is_contiguous()) throw ShapeError("sample: logits must be contiguous");
  if (!(args.temperature >= 0.0) || !std::isfinite(args.temperature)) {
    throw ArgumentError("sample: temperature must be finite and >= 0 (0 is greedy), got " +
                        std::to_string(args.temperature));
  }
  if (args.top_k < 0) {
    throw ArgumentError("sample: top_k must be >= 0 (0 keeps every token), got " +
                        std::to_string(args.top_k));
  }
  if (!(args.top_p > 0.0 && args.top_p <= 1.0)) {
    throw ArgumentError("sample: top_p must be in (0, 1] (1 keeps every token), got " +
                        std::to_string(args.top_p));
  }
  if (args.seed < 0 || args.step < 0) {
    throw ArgumentError("sample: seed and step must be >= 0");
  }
  const int64_t vocab = logits.dim(-1), rows = logits.numel() / vocab;
  if (logits.numel() > std::numeric_limits<uint32_t>::max()) {
    throw ShapeError("sample: logits must have fewer than 2^32 elements");
  }
  Shape out_shape(logits.shape().begin(), logits.shape().end() - 1);
  Tensor out = ctx.tensor(DType::I32, out_shape);

  kernel_params::SampleParams p{};
  p.vocab = static_cast<uint32_t>(vocab);
  p.greedy = args.temperature == 0.0 || args.top_k == 1 ? 1 : 0;
  p.inv_temperature = p.greedy ? 1.0f : static_cast<float>(1.0 / args.temperature);
  p.top_k = static_cast<uint32_t>(std::min<int64_t>(args.top_k, vocab));
  p.top_p = static_cast<float>(args.top_p);
  const auto seed = static_cast<uint64_t>(args.seed), step = static_cast<uint64_t>(args.step);
  p.seed_lo = static_cast<uint32_t>(seed), p.seed_hi = static_cast<uint32_t>(seed >> 32);
  p.step_lo = static_cast<uint32_t>(step), p.step_hi = static_cast<uint32_t>(step >> 32);
  Operation op{logits, out, kKernels.get("", logits.dtype()), p, static_cast<uint32_t>(rows)};
  return {std::move(op), std::move(out)};
}

void SampleOp::Operation::encode(ComputeKernelEncoder& e) const {
  if (rows == 0) return;
  // A short vocabulary needs fewer threads; the count depends on the vocabulary alone, so every
  // device reduces in the same order.
  const uint32_t threads = std::min(kMaxThreads, (params.vocab + 31) / 32 * 32);
  e.pipeline(function).buffer(0, logits).buffer(1, out).bytes(2, params).dispatch_custom(
      {rows, 1, 1}, {threads, 1, 1});
}

METALLIC_REGISTER_OP(
    SampleOp, "sample",
    "One token id (i32) per row of logits [..., vocab]: argmax when temperature is 0 (or top_k "
    "is 1); otherwise keep the top_k largest logits (ties with the k-th kept), then the smallest "
    "set of them whose softmax(logits / temperature) mass reaches top_p (the crossing token "
    "included, as Hugging Face), and draw from their renormalised probabilities with Philox4x32 "
    "keyed by seed, counter (row, step): the same seed, step and logits give the same token.",
    METALLIC_ARG(logits, "[..., vocab], f32/f16/bf16"),
    METALLIC_ARG(temperature, "softmax temperature; 0 is greedy"),
    METALLIC_ARG(top_k, "keep the k largest logits; 0 keeps all"),
    METALLIC_ARG(top_p, "nucleus mass in (0, 1]; 1 keeps all"),
    METALLIC_ARG(seed, "generator key (>= 0)"),
    METALLIC_ARG(step, "generator counter, e.g. the decoding step (>= 0)"));

}  // namespace metallic
