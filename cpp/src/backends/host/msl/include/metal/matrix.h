// Emulated MSL matrices: matrix<T,C,R> (C columns of vec<T,R>, column-major like MSL),
// float2x2 ... float4x4, half2x2 ... half4x4.
#pragma once

#include "metal/vector.h"

namespace metal {

template <class T, int C, int R>
struct matrix {
  static_assert(C >= 2 && C <= 4 && R >= 2 && R <= 4, "matrix<T,C,R>: C and R must be 2..4");
  using column_type = vec<T, R>;
  column_type columns[C];

  matrix() = default;
  // diagonal matrix: float4x4(1.0f) is the identity
  template <class U, std::enable_if_t<detail::is_mscalar_v<U>, int> = 0>
  explicit constexpr matrix(U d) : columns{} {
    for (int c = 0; c < C; ++c)
      for (int r = 0; r < R; ++r) columns[c].elems[r] = (c == r) ? T(d) : T(0);
  }
  // from C columns
  template <class... V, std::enable_if_t<sizeof...(V) == C &&
                                             (std::is_convertible<V, column_type>::value && ...) &&
                                             !(detail::is_mscalar_v<V> && ...),
                                         int> = 0>
  constexpr matrix(const V&... cols) : columns{column_type(cols)...} {}
  // from C*R scalars, column-major
  template <class... S, std::enable_if_t<sizeof...(S) == C * R && sizeof...(S) != 1 &&
                                             (detail::is_mscalar_v<S> && ...),
                                         int> = 0>
  constexpr matrix(const S&... s) : columns{} {
    const T v[] = {T(s)...};
    for (int c = 0; c < C; ++c)
      for (int r = 0; r < R; ++r) columns[c].elems[r] = v[c * R + r];
  }
  template <class U, std::enable_if_t<!std::is_same<U, T>::value, int> = 0>
  explicit constexpr matrix(const matrix<U, C, R>& o) : columns{} {
    for (int c = 0; c < C; ++c) columns[c] = column_type(o.columns[c]);
  }

  constexpr column_type& operator[](int i) { return columns[i]; }
  constexpr const column_type& operator[](int i) const { return columns[i]; }

  matrix& operator+=(const matrix& o) { return *this = *this + o; }
  matrix& operator-=(const matrix& o) { return *this = *this - o; }
  template <class U>
  matrix& operator*=(const U& o) {
    return *this = *this * o;
  }
};

template <class T, int C, int R>
inline matrix<T, C, R> operator+(const matrix<T, C, R>& a, const matrix<T, C, R>& b) {
  matrix<T, C, R> m;
  for (int c = 0; c < C; ++c) m.columns[c] = a.columns[c] + b.columns[c];
  return m;
}
template <class T, int C, int R>
inline matrix<T, C, R> operator-(const matrix<T, C, R>& a, const matrix<T, C, R>& b) {
  matrix<T, C, R> m;
  for (int c = 0; c < C; ++c) m.columns[c] = a.columns[c] - b.columns[c];
  return m;
}
template <class T, int C, int R>
inline matrix<T, C, R> operator-(const matrix<T, C, R>& a) {
  matrix<T, C, R> m;
  for (int c = 0; c < C; ++c) m.columns[c] = -a.columns[c];
  return m;
}
template <class T, int C, int R, class U, std::enable_if_t<detail::is_mscalar_v<U>, int> = 0>
inline matrix<T, C, R> operator*(const matrix<T, C, R>& a, U s) {
  matrix<T, C, R> m;
  for (int c = 0; c < C; ++c) m.columns[c] = a.columns[c] * T(s);
  return m;
}
template <class T, int C, int R, class U, std::enable_if_t<detail::is_mscalar_v<U>, int> = 0>
inline matrix<T, C, R> operator*(U s, const matrix<T, C, R>& a) {
  return a * s;
}
// matrix (C cols, R rows) * column vector (C) -> vector (R)
template <class T, int C, int R>
inline vec<T, R> operator*(const matrix<T, C, R>& m, const vec<T, C>& v) {
  vec<T, R> r = m.columns[0] * v.elems[0];
  for (int c = 1; c < C; ++c) r = r + m.columns[c] * v.elems[c];
  return r;
}
// row vector (R) * matrix -> vector (C)
template <class T, int C, int R>
inline vec<T, C> operator*(const vec<T, R>& v, const matrix<T, C, R>& m) {
  vec<T, C> r;
  for (int c = 0; c < C; ++c) {
    T s = v.elems[0] * m.columns[c].elems[0];
    for (int k = 1; k < R; ++k) s = s + v.elems[k] * m.columns[c].elems[k];
    r.elems[c] = s;
  }
  return r;
}
// (K cols, R rows) * (C cols, K rows) -> (C cols, R rows)
template <class T, int K, int R, int C>
inline matrix<T, C, R> operator*(const matrix<T, K, R>& a, const matrix<T, C, K>& b) {
  matrix<T, C, R> m;
  for (int c = 0; c < C; ++c) m.columns[c] = a * b.columns[c];
  return m;
}
template <class T, int C, int R>
inline bool operator==(const matrix<T, C, R>& a, const matrix<T, C, R>& b) {
  for (int c = 0; c < C; ++c)
    for (int r = 0; r < R; ++r)
      if (!(a.columns[c].elems[r] == b.columns[c].elems[r])) return false;
  return true;
}
template <class T, int C, int R>
inline bool operator!=(const matrix<T, C, R>& a, const matrix<T, C, R>& b) {
  return !(a == b);
}

template <class T, int C, int R>
inline matrix<T, R, C> transpose(const matrix<T, C, R>& m) {
  matrix<T, R, C> t;
  for (int c = 0; c < C; ++c)
    for (int r = 0; r < R; ++r) t.columns[r].elems[c] = m.columns[c].elems[r];
  return t;
}

template <class T>
inline T determinant(const matrix<T, 2, 2>& m) {
  return m[0][0] * m[1][1] - m[1][0] * m[0][1];
}
template <class T>
inline T determinant(const matrix<T, 3, 3>& m) {
  return m[0][0] * (m[1][1] * m[2][2] - m[2][1] * m[1][2]) -
         m[1][0] * (m[0][1] * m[2][2] - m[2][1] * m[0][2]) +
         m[2][0] * (m[0][1] * m[1][2] - m[1][1] * m[0][2]);
}
template <class T>
inline T determinant(const matrix<T, 4, 4>& m) {
  T d = T(0);
  for (int c = 0; c < 4; ++c) {
    matrix<T, 3, 3> s;
    for (int cc = 0, k = 0; cc < 4; ++cc) {
      if (cc == c) continue;
      s.columns[k++] = vec<T, 3>(m[cc][1], m[cc][2], m[cc][3]);
    }
    T t = m[c][0] * determinant(s);
    d = (c & 1) ? T(d - t) : T(d + t);
  }
  return d;
}

#define METAL_MAT_TYPEDEFS(T)     \
  typedef matrix<T, 2, 2> T##2x2; \
  typedef matrix<T, 2, 3> T##2x3; \
  typedef matrix<T, 2, 4> T##2x4; \
  typedef matrix<T, 3, 2> T##3x2; \
  typedef matrix<T, 3, 3> T##3x3; \
  typedef matrix<T, 3, 4> T##3x4; \
  typedef matrix<T, 4, 2> T##4x2; \
  typedef matrix<T, 4, 3> T##4x3; \
  typedef matrix<T, 4, 4> T##4x4;
METAL_MAT_TYPEDEFS(float)
METAL_MAT_TYPEDEFS(half)
#undef METAL_MAT_TYPEDEFS

static_assert(sizeof(float3x3) == 48 && sizeof(float4x4) == 64 && sizeof(half2x2) == 8,
              "matrix layout");

}  // namespace metal

#define METAL_MAT_GLOBAL(T) \
  using metal::T##2x2;      \
  using metal::T##2x3;      \
  using metal::T##2x4;      \
  using metal::T##3x2;      \
  using metal::T##3x3;      \
  using metal::T##3x4;      \
  using metal::T##4x2;      \
  using metal::T##4x3;      \
  using metal::T##4x4;
METAL_MAT_GLOBAL(float)
METAL_MAT_GLOBAL(half)
#undef METAL_MAT_GLOBAL
