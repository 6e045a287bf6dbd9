// One dispatch of the fill kernels (metal/creation): a scalar into a tensor or strided view. Used
// by full/zeros/ones and by slice assignment of a scalar (copyto).
#pragma once

#include <cstdint>

#include "metallic/kernel.hpp"

namespace metallic {

namespace creation_kernel {
using uint = uint32_t;
#include "creation/params.h"
}  // namespace creation_kernel

struct StridedFill {
  Tensor dst;
  KernelFunction function{};
  creation_kernel::FillParams params{};
  uint32_t value_bits = 0;  // the value in dst's dtype, in the low dtype_size bytes
  bool vector_form = false;

  /// Plans dst[...] = value; `op` names the caller in errors (a value dst's dtype cannot hold).
  static StridedFill plan(const char* op, const Tensor& dst, double value);
  void bind_kernel_args(ComputeKernelEncoder& e) const;
  /// Records the dispatch (nothing for an empty tensor).
  void encode(ComputeKernelEncoder& e) const;
};

/// `value` in dtype `t`'s bit pattern: floats round to nearest even; an integer dtype needs a
/// finite value within its range, which is truncated toward zero (as numpy's full); otherwise
/// an ArgumentError naming `op`.
uint32_t scalar_bits(const char* op, double value, DType t);

}  // namespace metallic
