// Argument struct of the broadcasting elementwise kernels (binary, compare, where), shared by the
// .metal sources and the host code (cpp/src/ops/broadcast_layout.cpp) so the layout cannot drift.
#pragma once

#define METALLIC_BROADCAST_MAX_DIMS 8
// Each thread of a strided (g-form) kernel writes this many consecutive elements of one output
// row, so the row's offsets are computed once per run.
#define METALLIC_BROADCAST_RUN 4

// The output is row-major with `ndim` dimensions (broadcast and collapsed by the host: no size-1
// dimensions, adjacent dimensions merged where every operand allows). Operand k reads element
// sum(coord[d] * k_strides[d]); a stride is 0 along a dimension the operand broadcasts over.
struct BroadcastParams {
  uint n;      // output elements
  uint ndim;   // collapsed rank, >= 1
  uint inner;  // shape[ndim - 1]: elements of one output row
  uint shape[METALLIC_BROADCAST_MAX_DIMS];
  uint a_strides[METALLIC_BROADCAST_MAX_DIMS];
  uint b_strides[METALLIC_BROADCAST_MAX_DIMS];
  uint c_strides[METALLIC_BROADCAST_MAX_DIMS];
};
