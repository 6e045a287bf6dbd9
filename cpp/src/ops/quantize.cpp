// Host side of metal/quantize: validation, kernel choice, binding.
#include "metallic/ops/quantize.hpp"

#include <limits>

#include "metallic/error.hpp"
#include "metallic/kernel_variants.hpp"
#include "metallic/op_registry.hpp"

namespace metallic {

namespace {
const KernelVariants kQuantizeKernels("quantize", {"q8_0", "q4_0"});
}

std::pair<QuantizeOp::Operation, Tensor> QuantizeOp::create(Context& ctx, const Args& args) {
  const Tensor& x = args.x;
  if (!x.defined()) throw ArgumentError("quantize: undefined tensor");
  const DType target = parse_dtype(args.dtype);
  if (!dtype_is_float(x.dtype())) {
    throw DTypeError(std::string("quantize: x must be f32, f16 or bf16, got ") +
                     dtype_name(x.dtype()));
  }
  if (!x.is_contiguous()) throw ShapeError("quantize: x must be contiguous");
  if (x.ndim() == 0 || x.dim(-1) % 32 != 0) {
    throw ShapeError(
        "quantize: the last dimension must be a multiple of 32 (the block size), got "
        "shape " +
        shape_str(x.shape()) + "; pad K first");
  }
  if (x.numel() > std::numeric_limits<uint32_t>::max()) {
    throw ShapeError("quantize: x must have fewer than 2^32 elements");
  }
  const KernelFunction fn = kQuantizeKernels.get(args.dtype.c_str(), x.dtype());
  Tensor out = ctx.tensor(target, x.shape());
  Operation op{x, out, fn, static_cast<uint32_t>(x.numel() / 32)};
  return {std::move(op), out};
}

void QuantizeOp::Operation::bind_kernel_args(ComputeKernelEncoder& e) const {
  e.buffer(0, x).buffer(1, out).bytes(2, blocks);
}

void QuantizeOp::Operation::encode(ComputeKernelEncoder& e) const {
  if (blocks == 0) return;
  e.pipeline(function).bind_kernel(*this).dispatch_1d(blocks, 64);
}

METALLIC_REGISTER_OP(QuantizeOp, "quantize",
                     "x quantized to GGUF blocks of 32 along the last axis (q8_0 or q4_0, rounded "
                     "as llama.cpp's reference quantizers); a weight for matmul(x, W, "
                     "transpose_b=True).",
                     METALLIC_ARG(x, "float [..., K], K a multiple of 32"),
                     METALLIC_ARG(dtype, "the block format").choices({"q8_0", "q4_0"}));

}  // namespace metallic
