// Shape: the dimensions (or strides) of a tensor, stored inline so that copying a Tensor — which
// every op does several times — never allocates. At most kMaxDims dimensions.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>

#include "metallic/error.hpp"

namespace metallic {

class Shape {
 public:
  static constexpr size_t kMaxDims = 8;
  using value_type = int64_t;
  using iterator = int64_t*;
  using const_iterator = const int64_t*;

  Shape() = default;
  /// `n` dimensions of size `value`.
  explicit Shape(size_t n, int64_t value = 0) {
    check(n);
    size_ = static_cast<uint8_t>(n);
    std::fill(begin(), end(), value);
  }
  Shape(std::initializer_list<int64_t> dims) : Shape(dims.begin(), dims.end()) {}
  template <class It>
  Shape(It first, It last) {
    const auto n = static_cast<size_t>(std::distance(first, last));
    check(n);
    size_ = static_cast<uint8_t>(n);
    std::copy(first, last, dims_);
  }

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  int64_t& operator[](size_t i) { return dims_[i]; }
  int64_t operator[](size_t i) const { return dims_[i]; }
  int64_t back() const { return dims_[size_ - 1]; }
  iterator begin() { return dims_; }
  iterator end() { return dims_ + size_; }
  const_iterator begin() const { return dims_; }
  const_iterator end() const { return dims_ + size_; }

  void push_back(int64_t d) {
    check(size_ + 1u);
    dims_[size_++] = d;
  }
  /// Removes dimension `i`.
  void erase_at(size_t i) {
    std::copy(dims_ + i + 1, dims_ + size_, dims_ + i);
    size_--;
  }

  bool operator==(const Shape& o) const { return std::equal(begin(), end(), o.begin(), o.end()); }
  bool operator!=(const Shape& o) const { return !(*this == o); }

 private:
  static void check(size_t n) {
    if (n > kMaxDims) {
      throw ShapeError("tensors have at most " + std::to_string(kMaxDims) + " dimensions, got " +
                       std::to_string(n));
    }
  }

  int64_t dims_[kMaxDims] = {};
  uint8_t size_ = 0;
};

}  // namespace metallic
