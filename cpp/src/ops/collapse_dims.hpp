// Dimension collapsing for kernels that index strided views through a shape and strides (copy,
// fill, the broadcasting kernels, reductions): fewer dimensions mean fewer divisions per element
// in the kernel, and a contiguous view becomes one dimension that the vector forms can take.
#pragma once

#include <vector>

#include "metallic/shape.hpp"

namespace metallic {

/// A row-major shape and the element strides with which one or more layouts walk it.
struct CollapsedDims {
  Shape shape;                 // at least one dimension
  std::vector<Shape> strides;  // strides[k][d]: layout k's stride along dimension d
};

/// `shape` as walked by the layouts `strides` (each as long as `shape`; any sign, 0 for a
/// broadcast), collapsed: size-1 dimensions dropped, and each dimension merged into the one before
/// it wherever every layout steps over that one exactly as over a longer this one
/// (strides[k][d-1] == strides[k][d] * shape[d]). The result visits the same elements in the same
/// order. Nothing left (a single element) gives one dimension of size 1 and stride 1; a zero-size
/// shape gives one dimension of size 0 and stride 1.
CollapsedDims collapse_dims(const Shape& shape, const std::vector<Shape>& strides);

}  // namespace metallic
