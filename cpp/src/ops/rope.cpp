// Host side of metal/rope: validation, strides of the layout, binding.
#include "metallic/ops/rope.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "float_input.hpp"
#include "metallic/error.hpp"
#include "metallic/kernel_variants.hpp"

namespace metallic {

namespace {
using uint = uint32_t;
#include "rope/params.h"

const KernelVariants rope_kernels("rope", {"neox", "gptj"});
}  // namespace

std::pair<RopeOp::Operation, Tensor> RopeOp::create(Context& ctx, const Args& args) {
  const Tensor& x = args.x;
  check_float_input(name, "x", x);
  const bool bshd = args.layout == "bshd";
  if (x.ndim() != 4) {
    throw ShapeError(std::string("rope: x must be 4-d ") +
                     (bshd ? "[batch, seq, heads, head_dim]" : "[batch, heads, seq, head_dim]") +
                     " (layout='" + args.layout + "'), got " + shape_str(x.shape()));
  }
  const int64_t batch = x.dim(0), seq = bshd ? x.dim(1) : x.dim(2),
                heads = bshd ? x.dim(2) : x.dim(1);
  const int64_t head_dim = x.dim(3);
  const int64_t rotary_dim = args.rotary_dim.value_or(head_dim);
  if (rotary_dim < 2 || rotary_dim > head_dim || rotary_dim % 2 != 0) {
    throw ArgumentError("rope: rotary_dim must be even and in [2, head_dim = " +
                        std::to_string(head_dim) + "], got " + std::to_string(rotary_dim) +
                        (args.rotary_dim ? "" : " (head_dim, the default)"));
  }
  if (!(args.theta > 0)) throw ArgumentError("rope: theta must be > 0");

  Operation op;
  op.x = x;
  op.offset = 0;
  op.positions_batch_stride = 0;
  if (const Tensor* positions = std::get_if<Tensor>(&args.offset)) {
    if (!positions->defined()) throw ArgumentError("rope: offset is an undefined tensor");
    if (positions->dtype() != DType::I32) {
      throw DTypeError(std::string("rope: a positions tensor (offset) must be i32, got ") +
                       dtype_name(positions->dtype()));
    }
    if (!positions->is_contiguous()) throw ShapeError("rope: positions must be contiguous");
    const Shape& ps = positions->shape();
    const bool shared = ps.size() == 1 && ps[0] == seq;
    const bool per_batch = ps.size() == 2 && ps[0] == batch && ps[1] == seq;
    if (!shared && !per_batch) {
      throw ShapeError("rope: positions must be [seq] = [" + std::to_string(seq) +
                       "] or [batch, seq] = [" + std::to_string(batch) + ", " +
                       std::to_string(seq) + "], got " + shape_str(ps));
    }
    op.positions = *positions;
    op.positions_batch_stride = per_batch ? static_cast<uint32_t>(seq) : 0;
  } else {
    const double start = std::get<double>(args.offset);
    const double last = start + static_cast<double>(seq);
    if (start != std::floor(start) || start < std::numeric_limits<int32_t>::min() ||
        last > std::numeric_limits<int32_t>::max()) {
      throw ArgumentError(
          "rope: offset must be an integer position (positions up to 2^31-1) or "
          "an i32 positions tensor, got " +
          std::to_string(start));
    }
    op.offset = static_cast<int32_t>(start);
  }

  op.out = ctx.tensor(x.dtype(), x.shape());
  op.function = rope_kernels.get(args.style == "gptj" ? "gptj" : "neox", x.dtype());
  op.head_dim = static_cast<uint32_t>(head_dim);
  op.rotary_dim = static_cast<uint32_t>(rotary_dim);
  op.heads = static_cast<uint32_t>(heads);
  op.seq = static_cast<uint32_t>(seq);
  op.batch = static_cast<uint32_t>(batch);
  op.slots = static_cast<uint32_t>(rotary_dim / 2 + (head_dim - rotary_dim));
  op.seq_stride = static_cast<uint32_t>(bshd ? heads * head_dim : head_dim);
  op.head_stride = static_cast<uint32_t>(bshd ? head_dim : seq * head_dim);
  op.batch_stride = static_cast<uint32_t>(seq * heads * head_dim);
  op.theta = static_cast<float>(args.theta);
  Tensor out = op.out;
  return {std::move(op), std::move(out)};
}

void RopeOp::Operation::bind_kernel_args(ComputeKernelEncoder& e) const {
  const RopeParams p{head_dim,
                     rotary_dim,
                     heads,
                     seq,
                     seq_stride,
                     head_stride,
                     batch_stride,
                     offset,
                     positions_batch_stride,
                     positions.defined() ? 1u : 0u,
                     theta};
  e.buffer(0, x).buffer(2, out).bytes(3, p);
  if (positions.defined()) e.buffer(1, positions);
}

void RopeOp::Operation::encode(ComputeKernelEncoder& e) const {
  if (out.numel() == 0) return;
  const uint32_t width = std::min<uint32_t>(slots, 64);
  const uint32_t height = std::min<uint32_t>(seq, 256 / width);
  e.pipeline(function).bind_kernel(*this).dispatch_threads({slots, seq, batch}, {width, height, 1});
}

METALLIC_REGISTER_OP(
    RopeOp, "rope",
    "Rotary position embedding: rotates pairs of each head's first rotary_dim dims by "
    "position * theta^(-2i/rotary_dim) (NeoX: dims (i, i + rotary_dim/2), as Hugging Face "
    "Llama/Qwen2; GPT-J: dims (2i, 2i+1)); the other dims pass through.",
    METALLIC_ARG(x,
                 "[batch, heads, seq, head_dim] (layout='bhsd') or [batch, seq, heads, head_dim] "
                 "(layout='bshd')"),
    METALLIC_ARG(offset,
                 "position of the first token (an integer, e.g. the KV length in decode) "
                 "or an i32 positions tensor [seq] or [batch, seq]"),
    METALLIC_ARG(theta, "frequency base"),
    METALLIC_ARG(style, "'neox' (rotate halves) or 'gptj' (interleaved pairs)")
        .choices({"neox", "gptj"}),
    METALLIC_ARG(rotary_dim, "rotated dims per head, even (None: all of head_dim)"),
    METALLIC_ARG(layout, "'bhsd' (attention's [batch, heads, seq, head_dim]) or 'bshd'")
        .choices({"bhsd", "bshd"}));

}  // namespace metallic
