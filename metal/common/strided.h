// Strided indexing shared by every kernel that reads or writes views through a shape and strides
// (copy, cast, fill, the broadcasting kernels, reductions): a flat row-major index over a shape
// becomes element offsets in one, two or three strided layouts of that shape. The host collapses
// the shape first (cpp/src/ops/strided_layout.hpp), so the loops run over few dimensions.
#pragma once

#include <metal_stdlib>
using namespace metal;

// Element offset of flat index `i` (row-major over shape[0..ndim)) in a layout with `strides`.
inline uint strided_offset(uint i, uint ndim, constant uint* shape, constant uint* strides) {
  uint offset = 0;
  for (uint d = ndim; d-- > 0;) {
    offset += (i % shape[d]) * strides[d];
    i /= shape[d];
  }
  return offset;
}

// Element offsets of flat index `i` in two layouts of the same shape (x: a, y: b), sharing the
// divisions (the costly part on a GPU).
inline uint2 strided_offsets2(uint i, uint ndim, constant uint* shape, constant uint* a,
                              constant uint* b) {
  uint2 offsets = uint2(0, 0);
  for (uint d = ndim; d-- > 0;) {
    offsets += (i % shape[d]) * uint2(a[d], b[d]);
    i /= shape[d];
  }
  return offsets;
}

// The same for three layouts (x: a, y: b, z: c).
inline uint3 strided_offsets3(uint i, uint ndim, constant uint* shape, constant uint* a,
                              constant uint* b, constant uint* c) {
  uint3 offsets = uint3(0, 0, 0);
  for (uint d = ndim; d-- > 0;) {
    offsets += (i % shape[d]) * uint3(a[d], b[d], c[d]);
    i /= shape[d];
  }
  return offsets;
}
