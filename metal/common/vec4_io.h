// Loads and stores of 4 consecutive elements as float4, shared by the row-wise float kernels
// (activations, norms, softmax): one 4-vector access when the caller knows the 4 elements are in
// range and 16/8-byte aligned (`whole`), else up to 4 scalar accesses that stop at `n`.
#pragma once

#include <metal_stdlib>
using namespace metal;

// p[i..i+4) as float; elements at or past n read as 0.
template <typename T>
inline float4 load4(device const T* p, uint i, uint n, bool whole) {
  if (whole) {
    return float4(*(device const vec<T, 4>*)(p + i));
  }
  float4 v = 0.0f;
  for (uint k = 0; k < 4 && i + k < n; k++) {
    v[k] = float(p[i + k]);
  }
  return v;
}

// p[i..i+4) = v rounded to T; elements at or past n are not written.
template <typename T>
inline void store4(device T* p, uint i, uint n, bool whole, float4 v) {
  if (whole) {
    *(device vec<T, 4>*)(p + i) = vec<T, 4>(v);
    return;
  }
  for (uint k = 0; k < 4 && i + k < n; k++) {
    p[i + k] = T(v[k]);
  }
}

// 1 for the elements of p[i..i+4) below n, 0 past it.
inline float4 in_range4(uint i, uint n) {
  return float4(i < n, i + 1 < n, i + 2 < n, i + 3 < n);
}
