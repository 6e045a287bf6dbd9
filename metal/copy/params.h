// Argument struct of the copy kernels (metal/copy), shared with cpp/src/ops/strided_copy.cpp so
// the layout cannot drift.
#pragma once

#define METALLIC_COPY_MAX_DIMS 8

struct CopyParams {
  uint n;                                     // elements to copy
  uint src_base, dst_base;                    // each side's first element (strided_layout.hpp)
  uint inner;                                 // size of the innermost dimension (copy_g)
  uint src_inner_stride;                      // element strides along the innermost dimension
  uint dst_inner_stride;
  uint outer_ndim;                            // the dimensions before the innermost one
  uint outer_shape[METALLIC_COPY_MAX_DIMS];
  uint src_outer_strides[METALLIC_COPY_MAX_DIMS];
  uint dst_outer_strides[METALLIC_COPY_MAX_DIMS];
};
