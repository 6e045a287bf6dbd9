// Plans and encodes one fill-kernel dispatch (vector form for contiguous aligned tensors).
#include "strided_fill.hpp"

#include <cmath>
#include <cstring>
#include <limits>
#include <string>

#include "core/float16.hpp"
#include "metallic/error.hpp"
#include "metallic/kernel_variants.hpp"
#include "strided_copy.hpp"
#include "strided_layout.hpp"

namespace metallic {

uint32_t scalar_bits(const char* op, double value, DType t) {
  auto int_bits = [&](double lo, double hi) {
    if (!std::isfinite(value) || value < lo || value > hi) {
      throw ArgumentError(std::string(op) + ": value " + std::to_string(value) +
                          " does not fit in " + dtype_name(t) + " (range " + std::to_string(lo) +
                          " to " + std::to_string(hi) + "); pick a wider dtype");
    }
    return static_cast<uint32_t>(static_cast<int64_t>(std::trunc(value)));
  };
  switch (t) {
    case DType::F32: {
      const float f = static_cast<float>(value);
      uint32_t bits;
      std::memcpy(&bits, &f, 4);
      return bits;
    }
    case DType::F16:
      return float_to_f16(static_cast<float>(value));
    case DType::BF16:
      return float_to_bf16(static_cast<float>(value));
    case DType::I32:
      return int_bits(-2147483648.0, 2147483647.0);
    case DType::U32:
      return int_bits(0, 4294967295.0);
    case DType::I8:
      return int_bits(-128, 127) & 0xffu;
    case DType::U8:
      return int_bits(0, 255);
    case DType::I64:
      break;
  }
  check_copy_dtype(op, "the output", t);
  return 0;
}

namespace {
const KernelVariants& fill_kernels() {
  static const KernelVariants kernels("fill", {"v", "g"});
  return kernels;
}
}  // namespace

StridedFill StridedFill::plan(const char* op, const Tensor& dst, double value) {
  check_copy_dtype(op, "the output", dst.dtype());
  const ForwardBinding binding = forward_binding(op, "the output", dst);
  StridedFill f;
  f.dst = binding.tensor;
  f.value_bits = scalar_bits(op, value, dst.dtype());
  auto& p = f.params;
  const CollapsedDims dims = collapse_dims(dst.shape(), {dst.strides()});
  p.base = binding.base;
  p.ndim = static_cast<uint32_t>(dims.shape.size());
  for (size_t d = 0; d < dims.shape.size(); ++d) {
    p.shape[d] = static_cast<uint32_t>(dims.shape[d]);
    p.strides[d] = static_cast<uint32_t>(dims.strides[0][d]);
  }
  if (dst.numel() > std::numeric_limits<uint32_t>::max()) {
    throw ShapeError(std::string(op) + ": tensors of 2^32 elements or more are not supported");
  }
  p.n = static_cast<uint32_t>(dst.numel());
  f.vector_form = dst.is_contiguous() && dst.offset_bytes() % (4 * dtype_size(dst.dtype())) == 0;
  f.function = fill_kernels().get(f.vector_form ? "v" : "g", dst.dtype());
  return f;
}

void StridedFill::bind_kernel_args(ComputeKernelEncoder& e) const {
  e.buffer(0, dst).bytes(1, &value_bits, dtype_size(dst.dtype())).bytes(2, params);
}

void StridedFill::encode(ComputeKernelEncoder& e) const {
  if (params.n == 0) return;
  e.pipeline(function).bind_kernel(*this);
  e.dispatch_1d(vector_form ? (params.n + 3) / 4 : params.n, 256);
}

}  // namespace metallic
