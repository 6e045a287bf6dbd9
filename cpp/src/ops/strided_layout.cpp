// Collapsed dimensions and forward bindings of strided layouts (see strided_layout.hpp).
#include "strided_layout.hpp"

#include <algorithm>
#include <string>

#include "metallic/error.hpp"

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

ForwardBinding forward_binding(const char* op, const char* what, const Tensor& t) {
  ForwardBinding b{t, 0};
  if (t.numel() == 0) return b;
  int64_t base = 0, span = 0;
  for (size_t d = 0; d < t.ndim(); ++d) {
    const int64_t steps = t.shape()[d] - 1, stride = t.strides()[d];
    span += steps * (stride < 0 ? -stride : stride);
    if (stride < 0 && steps > 0) {
      base += steps * -stride;
      b.tensor = b.tensor.strided_slice(static_cast<int64_t>(d), steps, steps + 1, -1);
    }
  }
  if (span >= int64_t{1} << 32) {
    throw ShapeError(std::string(op) + ": " + what + " spans more than 2^32-1 elements");
  }
  b.base = static_cast<uint32_t>(base);
  return b;
}

}  // namespace metallic
