// Strided indexing for the broadcasting kernels: where row `row` of the collapsed output starts in
// each operand. (The layout family's common/strided.h does the same for copies; see its header.)
#pragma once

#include <metal_stdlib>
#include "common/broadcast_params.h"
using namespace metal;

// Element offsets of output row `row` (all dimensions but the innermost) in operands a and b.
inline uint2 row_offsets2(constant BroadcastParams& p, uint row) {
  uint2 off = uint2(0, 0);
  for (int d = int(p.ndim) - 2; d >= 0; --d) {
    const uint c = row % p.shape[d];
    row /= p.shape[d];
    off += c * uint2(p.a_strides[d], p.b_strides[d]);
  }
  return off;
}

// The same for three operands a, b, c.
inline uint3 row_offsets3(constant BroadcastParams& p, uint row) {
  uint3 off = uint3(0, 0, 0);
  for (int d = int(p.ndim) - 2; d >= 0; --d) {
    const uint c = row % p.shape[d];
    row /= p.shape[d];
    off += c * uint3(p.a_strides[d], p.b_strides[d], p.c_strides[d]);
  }
  return off;
}
