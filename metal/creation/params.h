// Argument structs of the creation kernels (metal/creation), shared with cpp/src/ops/creation.cpp
// and cpp/src/ops/strided_fill.cpp so the layout cannot drift.
#pragma once

#define METALLIC_FILL_MAX_DIMS 8

struct FillParams {
  uint n;     // elements to write
  uint ndim;  // fill_g: the destination view's (merged) dimensions
  uint base;  // fill_g: the view's first element (cpp/src/ops/strided_layout.hpp)
  uint shape[METALLIC_FILL_MAX_DIMS];
  uint strides[METALLIC_FILL_MAX_DIMS];
};

struct ArangeParams {
  uint n;
  float start;  // float outputs: start + i * step, computed in float
  float step;
  uint istart;  // integer outputs: start + i * step, modulo 2^32, then narrowed
  uint istep;
};

struct RandomParams {
  uint n;
  uint key0;   // Philox key: the seed's low and high 32 bits
  uint key1;
  float shift;  // uniform: low; normal: loc
  float scale;  // uniform: high - low; normal: scale
};
