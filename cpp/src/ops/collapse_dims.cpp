// Merges the dimensions of strided layouts (see collapse_dims.hpp).
#include "collapse_dims.hpp"

#include <algorithm>

namespace metallic {

CollapsedDims collapse_dims(const Shape& shape, const std::vector<Shape>& strides) {
  CollapsedDims c;
  c.strides.resize(strides.size());
  const bool empty = std::find(shape.begin(), shape.end(), 0) != shape.end();
  for (size_t d = 0; d < shape.size() && !empty; ++d) {
    const int64_t size = shape[d];
    if (size == 1) continue;
    bool merge = !c.shape.empty();
    for (size_t k = 0; k < strides.size() && merge; ++k) {
      merge = c.strides[k].back() == strides[k][d] * size;
    }
    if (merge) {
      c.shape[c.shape.size() - 1] *= size;
      for (size_t k = 0; k < strides.size(); ++k) {
        c.strides[k][c.shape.size() - 1] = strides[k][d];
      }
    } else {
      c.shape.push_back(size);
      for (size_t k = 0; k < strides.size(); ++k) c.strides[k].push_back(strides[k][d]);
    }
  }
  if (c.shape.empty()) {
    c.shape.push_back(empty ? 0 : 1);
    for (Shape& s : c.strides) s.push_back(1);
  }
  return c;
}

}  // namespace metallic
