// Host side of the broadcasting kernels (metal/common/broadcast_params.h): numpy broadcast shapes,
// the collapsed strided layout the kernels index by, and scalar operands as kernel argument bytes.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

#include "metallic/kernel.hpp"
#include "metallic/op_registry.hpp"

namespace metallic {

using uint = uint32_t;
#include "common/broadcast_params.h"

/// One operand of a broadcasting op: its name (for errors) and its tensor (null for a scalar).
struct BroadcastOperand {
  const char* name;
  const Tensor* tensor;
};

/// The numpy broadcast of the operands' shapes (scalars take no part); throws ShapeError naming
/// the op, the operands and their shapes.
Shape broadcast_shape(const char* op, std::initializer_list<BroadcastOperand> operands);

/// The layout of output shape `out` with up to three operands (a_strides, b_strides, c_strides in
/// order; a scalar operand gets zero strides), collapsed (collapse_dims), with each operand's base
/// for its forward binding (bind tensors with bind_operand). Throws ShapeError when an extent
/// exceeds 2^32-1 elements.
BroadcastParams broadcast_params(const char* op, const Shape& out,
                                 std::initializer_list<BroadcastOperand> operands);

/// Dispatches a g-form kernel over `n` output elements in rows of `inner` (BroadcastParams n and
/// inner): x covers a row in runs of METALLIC_BROADCAST_RUN, y the rows.
void dispatch_broadcast(ComputeKernelEncoder& e, uint32_t n, uint32_t inner);

/// A scalar operand converted to `dtype` as the kernel reads it (`constant T&`). Throws DTypeError
/// when an integer dtype cannot hold the value exactly.
struct ScalarBytes {
  uint8_t bytes[4] = {};
  size_t size = 0;
};
ScalarBytes scalar_bytes(const char* op, const char* arg, double value, DType dtype);

/// Binds operand `v` to [[buffer(index)]]: a tensor (its forward binding, which broadcast_params'
/// bases assume), or a scalar's bytes as `dtype`.
void bind_operand(ComputeKernelEncoder& e, uint32_t index, const char* op, const char* arg,
                  const TensorOrScalar& v, DType dtype);

/// The tensor of a TensorOrScalar, or null for a scalar.
inline const Tensor* tensor_of(const TensorOrScalar& v) {
  return std::get_if<Tensor>(&v);
}

}  // namespace metallic
