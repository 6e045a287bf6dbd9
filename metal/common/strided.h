// Strided indexing shared by kernels that read or write views (copy, cast, fill, broadcasting):
// a flat row-major index over a shape becomes element offsets in one or two strided layouts.
#pragma once

#include <metal_stdlib>
using namespace metal;

// Element offset of flat index `i` (row-major over shape[0..ndim)) in a layout with `strides`.
inline uint strided_offset(uint i, uint ndim, constant uint* shape, constant uint* strides) {
  uint offset = 0;
  for (uint d = ndim; d-- > 0;) {
    const uint extent = shape[d];
    offset += (i % extent) * strides[d];
    i /= extent;
  }
  return offset;
}

// Element offsets of flat index `i` in two layouts of the same shape (x: a, y: b), sharing the
// divisions (the costly part on a GPU).
inline uint2 strided_offsets2(uint i, uint ndim, constant uint* shape, constant uint* a_strides,
                              constant uint* b_strides) {
  uint2 offsets = uint2(0, 0);
  for (uint d = ndim; d-- > 0;) {
    const uint extent = shape[d];
    const uint k = i % extent;
    offsets += uint2(k * a_strides[d], k * b_strides[d]);
    i /= extent;
  }
  return offsets;
}
