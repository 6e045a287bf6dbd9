// Strided layouts as the kernels that index views through a shape and strides see them (copy,
// fill, the broadcasting kernels, reductions; offsets in metal/common/strided.h). Two helpers:
// collapse_dims merges dimensions, so the kernels divide less per element and a contiguous view
// becomes one dimension that the vector forms take; forward_binding binds a view with negative
// strides (a reversed slice) at its lowest element, so the kernels' unsigned offsets reach it.
#pragma once

#include <cstdint>
#include <vector>

#include "metallic/shape.hpp"
#include "metallic/tensor.hpp"

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

/// How a kernel reaches a view: bind `tensor` (the same elements, with every negative-stride
/// dimension reversed so that it starts at the lowest one) and add `base` to the offsets that the
/// view's own shape and strides give (kernel arithmetic is unsigned modulo 2^32, so a negative
/// stride's steps wrap back down to the right element). base is 0 without negative strides.
struct ForwardBinding {
  Tensor tensor;
  uint32_t base = 0;
};

/// The binding of view `t` (see ForwardBinding). Throws ShapeError naming `op` and `what` when the
/// view spans 2^32 elements or more, which 32-bit kernel offsets cannot reach.
ForwardBinding forward_binding(const char* op, const char* what, const Tensor& t);

}  // namespace metallic
