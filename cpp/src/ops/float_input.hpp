// Input checks shared by the row-wise float op families (activations, norms, rope, softmax):
// each throws the error that says what to change.
#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>
#include <string>

#include "metallic/context.hpp"
#include "metallic/error.hpp"
#include "metallic/tensor.hpp"

namespace metallic {

/// `t` is defined, f32/f16/bf16, contiguous and below 2^32 elements.
inline void check_float_input(const char* op, const char* arg, const Tensor& t) {
  const std::string where = std::string(op) + ": " + arg;
  if (!t.defined()) throw ArgumentError(where + " is an undefined tensor");
  if (!dtype_is_float(t.dtype())) {
    throw DTypeError(where + " must be f32, f16 or bf16, got " + dtype_name(t.dtype()));
  }
  if (!t.is_contiguous()) {
    throw ShapeError(where + " must be contiguous (got strides " + shape_str(t.strides()) +
                     "); copy it first");
  }
  if (t.numel() > std::numeric_limits<uint32_t>::max()) {
    throw ShapeError(where + " has more than 2^32-1 elements");
  }
}

/// `t` has the dtype of `ref`, the op's main input.
inline void check_same_dtype(const char* op, const char* arg, const Tensor& t, const Tensor& ref) {
  if (t.dtype() != ref.dtype()) {
    throw DTypeError(std::string(op) + ": " + arg + " is " + dtype_name(t.dtype()) +
                     " but the input is " + dtype_name(ref.dtype()) + "; convert it first");
  }
}

/// Whether `t`'s first element is aligned for 4-element vector loads.
inline bool vec4_aligned(const Tensor& t) {
  return t.offset_bytes() % (4 * dtype_size(t.dtype())) == 0;
}

/// Rows (or row blocks) each threadgroup of a row-wise kernel takes in turn: 1 on a GPU (one row
/// per threadgroup fills the machine); on the host device, where each GPU thread is a fiber that
/// costs ~100 ns to run and ~10 ns per collective, enough to leave ~16 threadgroups for the
/// worker pool, so a fiber's cost is spread over many rows.
inline uint32_t rows_per_threadgroup(Context& ctx, uint32_t units) {
  if (ctx.device().kind() != DeviceKind::Host) return 1;
  constexpr uint32_t kHostThreadgroups = 16;
  return std::max<uint32_t>(1, (units + kHostThreadgroups - 1) / kHostThreadgroups);
}

/// Threadgroup width of a thread-per-row kernel (the host device's `row` backends): up to 32 rows
/// per threadgroup, fewer when there are few rows, so that ~16 threadgroups keep the worker pool
/// busy (a row of 4096 softmax scores is a lot of work for one thread).
inline uint32_t row_kernel_threadgroup_width(uint32_t rows) {
  return std::clamp<uint32_t>(rows / 16, 1, 32);
}

}  // namespace metallic
