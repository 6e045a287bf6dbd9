// Argument struct of the reduction kernels, shared by metal/reduce/kernel.metal and the host code
// (cpp/src/ops/reduce.cpp) so the layout cannot drift.
#pragma once

#define METALLIC_REDUCE_MAX_DIMS 8
// Threads per threadgroup of the rows, partial and finish forms: one SIMD group.
#define METALLIC_REDUCE_SIMD 32

// x's dimensions split into kept ones (the outputs, row-major) and reduced ones, each list
// collapsed by the host (size-1 dimensions dropped, mergeable neighbours merged).
struct ReduceParams {
  uint outputs;   // M: output elements
  uint base;      // x's first element (cpp/src/ops/strided_layout.hpp)
  uint kept_ndim;  // >= 1
  uint kept_shape[METALLIC_REDUCE_MAX_DIMS];
  uint kept_strides[METALLIC_REDUCE_MAX_DIMS];
  uint red_n;      // R: elements reduced into each output
  uint red_ndim;   // >= 1
  uint red_shape[METALLIC_REDUCE_MAX_DIMS];
  uint red_strides[METALLIC_REDUCE_MAX_DIMS];
  uint group_rows;  // rows: outputs per threadgroup (one after the other)
  uint chunk;      // partial: reduced elements per threadgroup
  uint chunks;     // partial: threadgroups per output (the finish form reduces this many)
};
