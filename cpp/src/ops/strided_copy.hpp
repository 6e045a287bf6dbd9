// One dispatch of the copy kernels (metal/copy): any strided view of any supported dtype into a
// tensor or view of the same shape, converting elements on the way. The primitive behind copy,
// contiguous, astype, transpose/permute, concatenate, split and slice assignment.
#pragma once

#include <cstdint>

#include "metallic/kernel.hpp"

namespace metallic {

namespace copy_kernel {
using uint = uint32_t;
#include "copy/params.h"
}  // namespace copy_kernel

struct StridedCopy {
  Tensor src, dst;
  KernelFunction function{};
  copy_kernel::CopyParams params{};
  bool vector_form = false;  // copy_v: both contiguous and aligned
  bool tile_form = false;    // copy_t: a transpose of the two innermost (merged) dimensions

  /// Plans src -> dst (same shape, same context; dst must not overlap src). `op` names the
  /// caller in errors (unsupported dtype, offsets beyond 2^32 elements).
  static StridedCopy plan(const char* op, const Tensor& src, const Tensor& dst);
  void bind_kernel_args(ComputeKernelEncoder& e) const;
  /// Records the dispatch (nothing for an empty tensor).
  void encode(ComputeKernelEncoder& e) const;
};

/// The dtypes the copy kernels convert between.
bool copy_supports(DType t);
/// "f32, f16, bf16, i32, u32, i8, u8", for error messages.
const char* copy_dtypes();
/// Throws DTypeError naming `op` and `what` unless the copy kernels support `t`.
void check_copy_dtype(const char* op, const char* what, DType t);
/// Whether the memory of views a and b may overlap (same buffer, intersecting byte ranges).
bool may_overlap(const Tensor& a, const Tensor& b);
/// Resolves a possibly negative axis against `ndim`; throws ShapeError naming `op`.
size_t normalize_axis(const char* op, int64_t axis, size_t ndim);
/// A view of `t` narrowed to [start, start + length) along `axis`.
Tensor narrow(const Tensor& t, size_t axis, int64_t start, int64_t length);

}  // namespace metallic
