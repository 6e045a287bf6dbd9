// Emulated MSL metal_array: metal::array<T, N>, a fixed-size aggregate array (as std::array).
#pragma once

#include <cstddef>

namespace metal {

template <class T, std::size_t N>
struct array {
  T elems_[N ? N : 1];  // public, so that `array<float, 4> a = {1, 2, 3, 4};` is aggregate init

  constexpr T& operator[](std::size_t i) { return elems_[i]; }
  constexpr const T& operator[](std::size_t i) const { return elems_[i]; }
  constexpr T& front() { return elems_[0]; }
  constexpr const T& front() const { return elems_[0]; }
  constexpr T& back() { return elems_[N - 1]; }
  constexpr const T& back() const { return elems_[N - 1]; }
  constexpr T* data() { return elems_; }
  constexpr const T* data() const { return elems_; }
  constexpr T* begin() { return elems_; }
  constexpr const T* begin() const { return elems_; }
  constexpr T* end() { return elems_ + N; }
  constexpr const T* end() const { return elems_ + N; }
  static constexpr std::size_t size() { return N; }
  static constexpr bool empty() { return N == 0; }
};

}  // namespace metal
