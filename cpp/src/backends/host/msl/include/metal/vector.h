// Emulated MSL vectors: vec<T,N> (N = 2,3,4) with GPU layout (size/alignment of the 4-vector
// for N = 3), single-letter lvalue members (.x .y .z .w / .r .g .b .a), v[i], swizzles through
// .swizzle<I...>() (value) / .swizzle_ref<I...>() (assignable proxy) emitted by the translator,
// packed_vec<T,N> (packed_float3 ...), component-wise operators with scalar broadcast.
#pragma once

#include "metal/scalar.h"

namespace metal {

template <class T, int N>
struct vec;
template <class T, int N>
struct packed_vec;

namespace detail {

template <class T, int N>
struct arr {
  T v[N];
};
struct arr_tag {};

template <class X>
struct vt {
  static constexpr int n = 0;
  static constexpr bool any = false;  // vec or packed_vec
  using elem = X;
};
template <class T, int N>
struct vt<vec<T, N>> {
  static constexpr int n = N;
  static constexpr bool any = true;
  using elem = T;
};
template <class T, int N>
struct vt<packed_vec<T, N>> {
  static constexpr int n = N;
  static constexpr bool any = true;
  using elem = T;
};

// number of scalar components an argument of a vector constructor contributes (-1000: invalid)
template <class X>
constexpr int ncomp() {
  if constexpr (vt<X>::any)
    return vt<X>::n;
  else if constexpr (is_mscalar_v<X>)
    return 1;
  else
    return -1000;
}

template <class T, int N>
constexpr std::size_t vec_align = sizeof(T) * (N == 3 ? 4 : N);

template <class T, int N, class X>
constexpr void put(arr<T, N>& r, int& i, const X& x) {
  if constexpr (vt<X>::any) {
    for (int k = 0; k < vt<X>::n; ++k) r.v[i++] = scalar_cast<T>(x.elems[k]);
  } else {
    r.v[i++] = scalar_cast<T>(x);
  }
}
template <class T, int N, class... A>
constexpr arr<T, N> gather(const A&... a) {
  arr<T, N> r{};
  int i = 0;
  (put<T, N>(r, i, a), ...);
  return r;
}
template <class T, int N>
constexpr arr<T, N> splat(T s) {
  arr<T, N> r{};
  for (int i = 0; i < N; ++i) r.v[i] = s;
  return r;
}
template <class T, int N, class V>
constexpr arr<T, N> convert(const V& o) {
  arr<T, N> r{};
  for (int i = 0; i < N; ++i) r.v[i] = scalar_cast<T>(o.elems[i]);
  return r;
}

// element i of a vector, or the scalar itself (broadcast)
template <class X>
constexpr decltype(auto) vget(const X& x, int i) {
  if constexpr (vt<X>::any)
    return (x.elems[i]);
  else {
    (void)i;
    return (x);
  }
}

// set element i of a vector, or the scalar itself
template <class X, class V>
constexpr void vset(X& x, int i, const V& v) {
  if constexpr (vt<X>::any)
    x.elems[i] = v;
  else {
    (void)i;
    x = v;
  }
}

// Storage with the anonymous unions (g++ extension: anonymous structs).
template <class T, int N, bool Aligned>
struct vstore;
#define METAL_VSTORE(N, ALIGN, ...)                                 \
  template <class T>                                                \
  struct ALIGN vstore<T, N, METAL_VSTORE_IS_ALIGNED> {              \
    union {                                                         \
      T elems[N];                                                   \
      __VA_ARGS__                                                   \
    };                                                              \
    vstore() = default;                                             \
    constexpr vstore(const arr<T, N>& a) : METAL_VSTORE_INIT_##N {} \
  };
#define METAL_VSTORE_INIT_2 \
  elems {                   \
    a.v[0], a.v[1]          \
  }
#define METAL_VSTORE_INIT_3 \
  elems {                   \
    a.v[0], a.v[1], a.v[2]  \
  }
#define METAL_VSTORE_INIT_4        \
  elems {                          \
    a.v[0], a.v[1], a.v[2], a.v[3] \
  }
#define METAL_VSTORE_IS_ALIGNED true
METAL_VSTORE(2, alignas(vec_align<T, 2>), struct { T x, y; }; struct { T r, g; };)
METAL_VSTORE(3, alignas(vec_align<T, 3>), struct { T x, y, z; }; struct { T r, g, b; };)
METAL_VSTORE(4, alignas(vec_align<T, 4>), struct { T x, y, z, w; }; struct { T r, g, b, a; };)
#undef METAL_VSTORE_IS_ALIGNED
#define METAL_VSTORE_IS_ALIGNED false
METAL_VSTORE(2, , struct { T x, y; }; struct { T r, g; };)
METAL_VSTORE(3, , struct { T x, y, z; }; struct { T r, g, b; };)
METAL_VSTORE(4, , struct { T x, y, z, w; }; struct { T r, g, b, a; };)
#undef METAL_VSTORE_IS_ALIGNED
#undef METAL_VSTORE
#undef METAL_VSTORE_INIT_2
#undef METAL_VSTORE_INIT_3
#undef METAL_VSTORE_INIT_4

// x op= u as x = CURRENT op u, for the 10 compound assignments (CURRENT: the value of x).
#define METAL_COMPOUND_ASSIGNMENT(SELF, CURRENT, OP_ASSIGN, OP) \
  template <class U>                                            \
  SELF& operator OP_ASSIGN(const U& u) {                        \
    return *this = CURRENT OP u;                                \
  }
#define METAL_COMPOUND_ASSIGNMENTS(SELF, CURRENT)   \
  METAL_COMPOUND_ASSIGNMENT(SELF, CURRENT, +=, +)   \
  METAL_COMPOUND_ASSIGNMENT(SELF, CURRENT, -=, -)   \
  METAL_COMPOUND_ASSIGNMENT(SELF, CURRENT, *=, *)   \
  METAL_COMPOUND_ASSIGNMENT(SELF, CURRENT, /=, /)   \
  METAL_COMPOUND_ASSIGNMENT(SELF, CURRENT, %=, %)   \
  METAL_COMPOUND_ASSIGNMENT(SELF, CURRENT, &=, &)   \
  METAL_COMPOUND_ASSIGNMENT(SELF, CURRENT, |=, |)   \
  METAL_COMPOUND_ASSIGNMENT(SELF, CURRENT, ^=, ^)   \
  METAL_COMPOUND_ASSIGNMENT(SELF, CURRENT, <<=, <<) \
  METAL_COMPOUND_ASSIGNMENT(SELF, CURRENT, >>=, >>)

// Assignable swizzle proxy returned by .swizzle_ref<I...>() (indices are distinct).
template <class C, class T, int... I>
struct swizzle_proxy {
  static constexpr int M = sizeof...(I);
  using V = vec<T, M>;
  C& c;
  operator V() const { return V(c.elems[I]...); }
  V value() const { return V(c.elems[I]...); }
  template <class U>
  swizzle_proxy& operator=(const U& u) {
    V t = V(u);  // scalar splat or vector of M components
    int k = 0;
    ((c.elems[I] = t.elems[k++]), ...);
    return *this;
  }
  swizzle_proxy& operator=(const swizzle_proxy& o) { return *this = o.value(); }
  METAL_COMPOUND_ASSIGNMENTS(swizzle_proxy, value())
};

}  // namespace detail

// Members shared by vec and packed_vec (CRTP-free: written out through a macro).
#define METAL_VEC_COMMON(SELF)                                                                  \
  constexpr T& operator[](int i) {                                                              \
    return this->elems[i];                                                                      \
  }                                                                                             \
  constexpr const T& operator[](int i) const {                                                  \
    return this->elems[i];                                                                      \
  }                                                                                             \
  template <int... I>                                                                           \
  constexpr auto swizzle() const {                                                              \
    static_assert(((I >= 0 && I < N) && ...), "swizzle index out of range");                    \
    if constexpr (sizeof...(I) == 1)                                                            \
      return T(this->elems[I]...);                                                              \
    else                                                                                        \
      return vec<T, int(sizeof...(I))>(detail::arr_tag{},                                       \
                                       detail::arr<T, int(sizeof...(I))>{{this->elems[I]...}}); \
  }                                                                                             \
  template <int... I>                                                                           \
  detail::swizzle_proxy<SELF, T, I...> swizzle_ref() {                                          \
    static_assert(((I >= 0 && I < N) && ...), "swizzle index out of range");                    \
    return detail::swizzle_proxy<SELF, T, I...>{*this};                                         \
  }                                                                                             \
  METAL_COMPOUND_ASSIGNMENTS(SELF, *this)                                                       \
  SELF& operator++() {                                                                          \
    return *this += T(1);                                                                       \
  }                                                                                             \
  SELF& operator--() {                                                                          \
    return *this -= T(1);                                                                       \
  }                                                                                             \
  SELF operator++(int) {                                                                        \
    SELF t = *this;                                                                             \
    *this += T(1);                                                                              \
    return t;                                                                                   \
  }                                                                                             \
  SELF operator--(int) {                                                                        \
    SELF t = *this;                                                                             \
    *this -= T(1);                                                                              \
    return t;                                                                                   \
  }

template <class T, int N>
struct vec : detail::vstore<T, N, true> {
  static_assert(N >= 2 && N <= 4, "vec<T,N>: N must be 2, 3 or 4");
  static_assert(detail::is_mscalar_v<T>, "vec<T,N>: T must be a scalar type");
  using B = detail::vstore<T, N, true>;
  using value_type = T;

  vec() = default;  // uninitialised, as in MSL (vec v{} zero-initialises)
  constexpr vec(detail::arr_tag, const detail::arr<T, N>& a) : B(a) {}
  // splat: float4 v = 1.0f;
  template <class U, std::enable_if_t<detail::is_mscalar_v<U>, int> = 0>
  constexpr vec(U s) : B(detail::splat<T, N>(T(s))) {}
  // N scalars, or any concatenation of scalars and vectors adding up to N components
  template <
      class A0, class A1, class... A,
      std::enable_if_t<
          detail::ncomp<A0>() + detail::ncomp<A1>() + (0 + ... + detail::ncomp<A>()) == N, int> = 0>
  constexpr vec(const A0& a0, const A1& a1, const A&... a)
      : B(detail::gather<T, N>(a0, a1, a...)) {}
  // explicit element-type conversion: float4(half4), int2(float2)
  template <class U, std::enable_if_t<!std::is_same<U, T>::value, int> = 0>
  explicit constexpr vec(const vec<U, N>& o) : B(detail::convert<T, N>(o)) {}
  constexpr vec(const packed_vec<T, N>& p) : B(detail::convert<T, N>(p)) {}
  template <class U, std::enable_if_t<!std::is_same<U, T>::value, int> = 0>
  explicit constexpr vec(const packed_vec<U, N>& p) : B(detail::convert<T, N>(p)) {}

  METAL_VEC_COMMON(vec)
};

template <class T, int N>
struct packed_vec : detail::vstore<T, N, false> {
  static_assert(N >= 2 && N <= 4, "packed_vec<T,N>: N must be 2, 3 or 4");
  using B = detail::vstore<T, N, false>;
  using value_type = T;

  packed_vec() = default;
  template <class U, std::enable_if_t<detail::is_mscalar_v<U>, int> = 0>
  constexpr packed_vec(U s) : B(detail::splat<T, N>(T(s))) {}
  template <
      class A0, class A1, class... A,
      std::enable_if_t<
          detail::ncomp<A0>() + detail::ncomp<A1>() + (0 + ... + detail::ncomp<A>()) == N, int> = 0>
  constexpr packed_vec(const A0& a0, const A1& a1, const A&... a)
      : B(detail::gather<T, N>(a0, a1, a...)) {}
  constexpr packed_vec(const vec<T, N>& v) : B(detail::convert<T, N>(v)) {}
  template <class U, std::enable_if_t<!std::is_same<U, T>::value, int> = 0>
  explicit constexpr packed_vec(const vec<U, N>& v) : B(detail::convert<T, N>(v)) {}

  METAL_VEC_COMMON(packed_vec)
};
#undef METAL_VEC_COMMON
#undef METAL_COMPOUND_ASSIGNMENTS
#undef METAL_COMPOUND_ASSIGNMENT

// ------------------------------------------------------------------------------------------
// Operators (found by ADL).  vec op vec needs equal element type and size; a scalar operand is
// converted to the element type and broadcast.  packed operands behave like vec.
// ------------------------------------------------------------------------------------------
namespace detail {
template <class A, class B, class = void>
struct vbin {};
template <class A, class B>
struct vbin<A, B,
            std::enable_if_t<vt<A>::any && vt<B>::any && vt<A>::n == vt<B>::n &&
                             std::is_same<typename vt<A>::elem, typename vt<B>::elem>::value>> {
  using E = typename vt<A>::elem;
  static constexpr int n = vt<A>::n;
};
template <class A, class B>
struct vbin<A, B, std::enable_if_t<vt<A>::any && is_mscalar_v<B>>> {
  using E = typename vt<A>::elem;
  static constexpr int n = vt<A>::n;
};
template <class A, class B>
struct vbin<A, B, std::enable_if_t<is_mscalar_v<A> && vt<B>::any>> {
  using E = typename vt<B>::elem;
  static constexpr int n = vt<B>::n;
};
template <class T>
constexpr int shmask() {
  return int(sizeof(T) * 8 - 1);
}

// half vector + - * / through F16C when available (g++ 12 does not vectorise _Float16
// conversions): one vcvtph2ps per operand, one float op, one vcvtps2ph (round to nearest even)
// -- bit-identical to the per-component _Float16 arithmetic.
#if defined(__F16C__) && defined(__x86_64__)
#define METAL_HALF_F16C 1
typedef short v8hi __attribute__((vector_size(16)));
typedef float v4sf __attribute__((vector_size(16)));
template <class X>
inline v4sf h2f4(const X& x) {
  if constexpr (vt<X>::any && sizeof(X) == 8) {
    typedef long long v2di __attribute__((vector_size(16)));
    long long q;
    __builtin_memcpy(&q, &x, 8);
    return __builtin_ia32_vcvtph2ps(v8hi(v2di{q, 0}));
  } else if constexpr (vt<X>::any) {
    v8hi v = {};
    __builtin_memcpy(&v, x.elems, sizeof(half) * vt<X>::n);
    return __builtin_ia32_vcvtph2ps(v);
  } else {
    const float f = float(half(x));
    return v4sf{f, f, f, f};
  }
}
template <int N>
inline void f4h(half* out, v4sf f) {
  const v8hi v = __builtin_ia32_vcvtps2ph(f, 0);
  __builtin_memcpy(out, &v, sizeof(half) * N);
}
#endif
}  // namespace detail

#define METAL_VEC_ARITH(OP)                                                                        \
  template <class A, class B, class R = detail::vbin<A, B>>                                        \
  inline vec<typename R::E, R::n> operator OP(const A& a, const B& b) {                            \
    using E = typename R::E;                                                                       \
    vec<E, R::n> r;                                                                                \
    METAL_HALF_FAST_PATH(OP)                                                                       \
    for (int i = 0; i < R::n; ++i) r.elems[i] = E(E(detail::vget(a, i)) OP E(detail::vget(b, i))); \
    return r;                                                                                      \
  }
#ifdef METAL_HALF_F16C
#define METAL_HALF_FAST_PATH(OP)                                         \
  if constexpr (std::is_same<E, half>::value && METAL_IS_FLOAT_OP(OP)) { \
    detail::f4h<R::n>(r.elems, detail::h2f4(a) OP detail::h2f4(b));      \
    return r;                                                            \
  }
#else
#define METAL_HALF_FAST_PATH(OP)
#endif
#define METAL_IS_FLOAT_OP(OP) \
  (sizeof(#OP) == 2 && (#OP[0] == '+' || #OP[0] == '-' || #OP[0] == '*' || #OP[0] == '/'))
METAL_VEC_ARITH(+)
METAL_VEC_ARITH(-)
METAL_VEC_ARITH(*)
METAL_VEC_ARITH(/)
METAL_VEC_ARITH(%)
METAL_VEC_ARITH(&)
METAL_VEC_ARITH(|)
METAL_VEC_ARITH(^)
#undef METAL_VEC_ARITH
#undef METAL_HALF_FAST_PATH
#undef METAL_IS_FLOAT_OP

// Shifts: the shift count is taken modulo the bit width (as on the GPU / OpenCL), no UB.
#define METAL_VEC_SHIFT(OP)                                                                       \
  template <class A, class B, class R = detail::vbin<A, B>>                                       \
  inline vec<typename R::E, R::n> operator OP(const A& a, const B& b) {                           \
    using E = typename R::E;                                                                      \
    vec<E, R::n> r;                                                                               \
    for (int i = 0; i < R::n; ++i)                                                                \
      r.elems[i] = E(E(detail::vget(a, i)) OP(int(E(detail::vget(b, i))) & detail::shmask<E>())); \
    return r;                                                                                     \
  }
METAL_VEC_SHIFT(<<)
METAL_VEC_SHIFT(>>)
#undef METAL_VEC_SHIFT

#define METAL_VEC_CMP(OP)                                                                       \
  template <class A, class B, class R = detail::vbin<A, B>>                                     \
  inline vec<bool, R::n> operator OP(const A& a, const B& b) {                                  \
    using E = typename R::E;                                                                    \
    vec<bool, R::n> r;                                                                          \
    for (int i = 0; i < R::n; ++i) r.elems[i] = E(detail::vget(a, i)) OP E(detail::vget(b, i)); \
    return r;                                                                                   \
  }
METAL_VEC_CMP(==)
METAL_VEC_CMP(!=)
METAL_VEC_CMP(<)
METAL_VEC_CMP(<=)
METAL_VEC_CMP(>)
METAL_VEC_CMP(>=)
#undef METAL_VEC_CMP

// Component-wise logical operators (no short circuit, as for MSL vectors).
#define METAL_VEC_LOGIC(OP)                                              \
  template <class A, class B, class R = detail::vbin<A, B>>              \
  inline vec<bool, R::n> operator OP(const A& a, const B& b) {           \
    vec<bool, R::n> r;                                                   \
    for (int i = 0; i < R::n; ++i)                                       \
      r.elems[i] = bool(detail::vget(a, i)) OP bool(detail::vget(b, i)); \
    return r;                                                            \
  }
METAL_VEC_LOGIC(&&)
METAL_VEC_LOGIC(||)
#undef METAL_VEC_LOGIC

#define METAL_VEC_UNARY(OP, RT)                                                \
  template <class A, std::enable_if_t<detail::vt<A>::any, int> = 0>            \
  inline vec<RT, detail::vt<A>::n> operator OP(const A& a) {                   \
    vec<RT, detail::vt<A>::n> r;                                               \
    for (int i = 0; i < detail::vt<A>::n; ++i) r.elems[i] = RT(OP a.elems[i]); \
    return r;                                                                  \
  }
METAL_VEC_UNARY(-, typename detail::vt<A>::elem)
METAL_VEC_UNARY(+, typename detail::vt<A>::elem)
METAL_VEC_UNARY(~, typename detail::vt<A>::elem)
METAL_VEC_UNARY(!, bool)
#undef METAL_VEC_UNARY

// ------------------------------------------------------------------------------------------
// Type names: float2 ... ulong4, packed_float2 ... packed_ulong4
// ------------------------------------------------------------------------------------------
#define METAL_VEC_TYPEDEFS(T)             \
  typedef vec<T, 2> T##2;                 \
  typedef vec<T, 3> T##3;                 \
  typedef vec<T, 4> T##4;                 \
  typedef packed_vec<T, 2> packed_##T##2; \
  typedef packed_vec<T, 3> packed_##T##3; \
  typedef packed_vec<T, 4> packed_##T##4;
METAL_VEC_TYPEDEFS(float)
METAL_VEC_TYPEDEFS(half)
METAL_VEC_TYPEDEFS(bfloat)
METAL_VEC_TYPEDEFS(int)
METAL_VEC_TYPEDEFS(uint)
METAL_VEC_TYPEDEFS(short)
METAL_VEC_TYPEDEFS(ushort)
METAL_VEC_TYPEDEFS(char)
METAL_VEC_TYPEDEFS(uchar)
METAL_VEC_TYPEDEFS(bool)
METAL_VEC_TYPEDEFS(long)
METAL_VEC_TYPEDEFS(ulong)
#undef METAL_VEC_TYPEDEFS

static_assert(sizeof(float3) == 16 && alignof(float3) == 16, "float3 layout");
static_assert(sizeof(half3) == 8 && alignof(half3) == 8, "half3 layout");
static_assert(sizeof(float2) == 8 && alignof(float2) == 8, "float2 layout");
static_assert(sizeof(packed_float3) == 12 && alignof(packed_float3) == 4, "packed_float3 layout");
static_assert(std::is_trivially_copyable<float4>::value && std::is_trivial<float4>::value,
              "float4 trivial");

}  // namespace metal

#define METAL_VEC_GLOBAL(T)   \
  using metal::T##2;          \
  using metal::T##3;          \
  using metal::T##4;          \
  using metal::packed_##T##2; \
  using metal::packed_##T##3; \
  using metal::packed_##T##4;
METAL_VEC_GLOBAL(float)
METAL_VEC_GLOBAL(half)
METAL_VEC_GLOBAL(bfloat)
METAL_VEC_GLOBAL(int)
METAL_VEC_GLOBAL(uint)
METAL_VEC_GLOBAL(short)
METAL_VEC_GLOBAL(ushort)
METAL_VEC_GLOBAL(char)
METAL_VEC_GLOBAL(uchar)
METAL_VEC_GLOBAL(bool)
METAL_VEC_GLOBAL(long)
METAL_VEC_GLOBAL(ulong)
#undef METAL_VEC_GLOBAL
