// Argument struct of the broadcasting elementwise kernels (binary, compare, where), shared by the
// .metal sources and the host code (cpp/src/ops/broadcast_layout.cpp) so the layout cannot drift.
#pragma once

#define METALLIC_BROADCAST_MAX_DIMS 8
// Each thread of a strided (g-form) kernel writes this many consecutive elements of one output
// row, so the row's offsets are computed once per run.
#define METALLIC_BROADCAST_RUN 4

// The output is row-major with `ndim` dimensions (broadcast and collapsed by the host: no size-1
// dimensions, adjacent dimensions merged where every operand allows). Operand k reads element
// k_base + sum(coord[d] * k_strides[d]) in uint arithmetic; a stride is 0 along a dimension the
// operand broadcasts over, and a negative one wraps (the host binds such a view at its lowest
// element and puts its first element at k_base: cpp/src/ops/strided_layout.hpp).
struct BroadcastParams {
  uint n;      // output elements
  uint ndim;   // collapsed rank, >= 1
  uint inner;  // shape[ndim - 1]: elements of one output row
  uint a_base, b_base, c_base;
  uint shape[METALLIC_BROADCAST_MAX_DIMS];
  uint a_strides[METALLIC_BROADCAST_MAX_DIMS];
  uint b_strides[METALLIC_BROADCAST_MAX_DIMS];
  uint c_strides[METALLIC_BROADCAST_MAX_DIMS];
};
