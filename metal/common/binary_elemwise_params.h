// Argument struct of the binary elementwise kernels, shared by the .metal sources and the host
// code (cpp/src/ops/elemwise.cpp) so the layout cannot drift.
#pragma once

struct BinaryElemwiseParams {
  uint n;    // elements of a and out
  uint b_n;  // elements of b (== n unless b is broadcast)
};
