// Argument struct of the gather kernels, shared by metal/gather/kernel.metal and the host code
// (cpp/src/ops/gather.cpp) so the layout cannot drift.
#pragma once

// x viewed as [outer, n, inner]; out is [outer, count, inner] with out[o, k, :] = x[o, idx[k], :].
struct GatherParams {
  uint outer;
  uint n;        // length of the gathered axis; indices must lie in [-n, n)
  uint inner;    // elements per gathered row
  uint count;    // indices
  uint x_numel;  // elements of x: an out-of-range index reads element x_numel (past the end)
};
