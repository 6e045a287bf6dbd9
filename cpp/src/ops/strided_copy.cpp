// Plans and encodes one copy-kernel dispatch: merges dimensions that are contiguous in both
// layouts (a contiguous copy becomes 1-d, a transpose stays 2-d), then picks the vector form when
// both sides are contiguous and aligned, the 4x4-tile form for transposes (the innermost
// dimension strided in src, the one before it contiguous), the general strided form otherwise.
#include "strided_copy.hpp"

#include <algorithm>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "metallic/error.hpp"
#include "metallic/kernel_variants.hpp"
#include "strided_layout.hpp"

namespace metallic {

namespace {

const KernelVariants& copy_kernels() {
  static const KernelVariants kernels(
      "copy", {"v_f32", "v_f16", "v_bf16", "v_i32", "v_u32", "v_i8", "v_u8",
               "g_f32", "g_f16", "g_bf16", "g_i32", "g_u32", "g_i8", "g_u8",
               "t_f32", "t_f16", "t_bf16", "t_i32", "t_u32", "t_i8", "t_u8"});
  return kernels;
}

bool aligned4(const Tensor& t) {
  return t.offset_bytes() % (4 * dtype_size(t.dtype())) == 0;
}

}  // namespace

bool copy_supports(DType t) {
  return t != DType::I64;
}

const char* copy_dtypes() {
  return "f32, f16, bf16, i32, u32, i8, u8";
}

void check_copy_dtype(const char* op, const char* what, DType t) {
  if (!copy_supports(t)) {
    throw DTypeError(std::string(op) + ": " + what + " is " + dtype_name(t) +
                     ", which is not supported (supported: " + copy_dtypes() + ")");
  }
}

bool may_overlap(const Tensor& a, const Tensor& b) {
  if (a.buffer() != b.buffer() || a.numel() == 0 || b.numel() == 0) return false;
  // [first, end) byte ranges, a negative stride reaching below the view's first element.
  auto range = [](const Tensor& t) {
    int64_t low = 0, high = 0;
    for (size_t i = 0; i < t.ndim(); ++i) {
      const int64_t reach = (t.shape()[i] - 1) * t.strides()[i];
      (reach < 0 ? low : high) += reach;
    }
    const auto elem = static_cast<int64_t>(dtype_size(t.dtype()));
    const auto offset = static_cast<int64_t>(t.offset_bytes());
    return std::pair<int64_t, int64_t>{offset + low * elem, offset + (high + 1) * elem};
  };
  const auto [a_first, a_end] = range(a);
  const auto [b_first, b_end] = range(b);
  return a_first < b_end && b_first < a_end;
}

size_t normalize_axis(const char* op, int64_t axis, size_t ndim) {
  const auto n = static_cast<int64_t>(ndim);
  if (axis < -n || axis >= n) {
    throw ShapeError(std::string(op) + ": axis " + std::to_string(axis) + " is out of range for " +
                     std::to_string(ndim) + " dimensions (use -" + std::to_string(ndim) + " to " +
                     std::to_string(n - 1) + ")");
  }
  return static_cast<size_t>(axis < 0 ? axis + n : axis);
}

Tensor narrow(const Tensor& t, size_t axis, int64_t start, int64_t length) {
  Shape shape = t.shape();
  shape[axis] = length;
  const size_t offset =
      t.offset_bytes() + static_cast<size_t>(start * t.strides()[axis]) * dtype_size(t.dtype());
  return Tensor(t.storage(), t.dtype(), shape, t.strides(), offset);
}

StridedCopy StridedCopy::plan(const char* op, const Tensor& src, const Tensor& dst) {
  check_copy_dtype(op, "the source", src.dtype());
  check_copy_dtype(op, "the destination", dst.dtype());
  if (src.numel() > std::numeric_limits<uint32_t>::max()) {
    throw ShapeError(std::string(op) + ": tensors of 2^32 elements or more are not supported");
  }
  const ForwardBinding from = forward_binding(op, "the source", src);
  const ForwardBinding to = forward_binding(op, "the destination", dst);
  const CollapsedDims dims = collapse_dims(src.shape(), {src.strides(), dst.strides()});
  const Shape &shape = dims.shape, &src_strides = dims.strides[0], &dst_strides = dims.strides[1];
  const size_t inner = shape.size() - 1;
  StridedCopy c;
  c.src = from.tensor;
  c.dst = to.tensor;
  auto& p = c.params;
  p.n = static_cast<uint32_t>(src.numel());
  p.src_base = from.base;
  p.dst_base = to.base;
  p.inner = static_cast<uint32_t>(shape[inner]);
  p.src_inner_stride = static_cast<uint32_t>(src_strides[inner]);
  p.dst_inner_stride = static_cast<uint32_t>(dst_strides[inner]);
  p.outer_ndim = static_cast<uint32_t>(inner);
  for (size_t d = 0; d < inner; ++d) {
    p.outer_shape[d] = static_cast<uint32_t>(shape[d]);
    p.src_outer_strides[d] = static_cast<uint32_t>(src_strides[d]);
    p.dst_outer_strides[d] = static_cast<uint32_t>(dst_strides[d]);
  }
  c.vector_form = inner == 0 && src_strides[0] == 1 && dst_strides[0] == 1 && aligned4(c.src) &&
                  aligned4(c.dst);
  // A transpose: the innermost dimension is strided in src, the one before it contiguous.
  c.tile_form =
      !c.vector_form && inner >= 1 && src_strides[inner] != 1 && src_strides[inner - 1] == 1;
  const char* kind = c.vector_form ? "v_" : c.tile_form ? "t_" : "g_";
  const std::string form = std::string(kind) + dtype_name(src.dtype());
  c.function = copy_kernels().get(form.c_str(), dst.dtype());
  return c;
}

void StridedCopy::bind_kernel_args(ComputeKernelEncoder& e) const {
  e.buffer(0, src).buffer(1, dst).bytes(2, params);
}

void StridedCopy::encode(ComputeKernelEncoder& e) const {
  if (params.n == 0) return;
  e.pipeline(function).bind_kernel(*this);
  if (vector_form) {
    e.dispatch_1d((params.n + 3) / 4, 256);
    return;
  }
  if (tile_form) {
    const uint32_t extent = params.outer_shape[params.outer_ndim - 1];
    const uint32_t k_groups = (extent + 3) / 4, j_groups = (params.inner + 3) / 4;
    const uint32_t rows = params.n / (params.inner * extent);
    const uint32_t width = std::min<uint32_t>(k_groups, 16);
    const uint32_t height = std::min<uint32_t>(j_groups, 256 / width);
    e.dispatch_threads({k_groups, j_groups, rows}, {width, height, 1});
    return;
  }
  const uint32_t groups = (params.inner + 3) / 4, rows = params.n / params.inner;
  const uint32_t width = std::min<uint32_t>(groups, 256);
  const uint32_t height = std::min<uint32_t>(rows, 256 / width);
  e.dispatch_threads({groups, rows, 1}, {width, height, 1});
}

}  // namespace metallic
