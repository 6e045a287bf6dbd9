// Emulated MSL math (metal_math / metal_common / metal_integer / metal_relational /
// metal_geometric).  All functions are templates over scalars (float, half, bfloat, integers)
// and vec/packed_vec of them, applied component-wise; scalar arguments broadcast against vector
// ones.  Half/bfloat inputs are computed in float and rounded back (results can be slightly
// more accurate than the GPU's native half code).
//
// precise:: and fast:: name the same host implementations (the compiler's float builtins): the
// host does not model the reduced accuracy of Metal's fast-math. They are using-declarations, so
// a library that adds its own overloads to metal::fast (MLX's bfloat ones) still sees these.
//
// Only MSL's names: nothing here is visible outside namespace metal, and the C library's math
// (::exp(double), ::log1p) is not included. Being templates, these functions lose a tie to a
// user's non-template overload of the same name.
#pragma once

#include <limits>

#include "metal/vector.h"

namespace metal {
namespace detail {

// ---- shape of the arguments of an n-ary component-wise function ---------------------------
template <class X, bool V = vt<X>::any, bool S = is_mscalar_v<X>>
struct leaf {
  static constexpr bool ok = false;
  static constexpr int n = 0;
  using elem = int;
};
template <class X>
struct leaf<X, true, false> {
  static constexpr bool ok = true;
  static constexpr int n = vt<X>::n;
  using elem = typename vt<X>::elem;
};
template <class X>
struct leaf<X, false, true> {
  static constexpr bool ok = true;
  static constexpr int n = 0;
  using elem = std::conditional_t<std::is_same<X, double>::value, float, X>;
};
template <class A, class B>
struct join {
  static constexpr bool ok =
      A::ok && B::ok &&
      (A::n == 0 || B::n == 0 ||
       (A::n == B::n && std::is_same<typename A::elem, typename B::elem>::value));
  static constexpr int n = A::n ? A::n : B::n;
  using elem =
      std::conditional_t<A::n != 0, typename A::elem,
                         std::conditional_t<B::n != 0, typename B::elem,
                                            scommon2_t<typename A::elem, typename B::elem>>>;
};
template <class... A>
struct shape;
template <class A>
struct shape<A> : leaf<A> {};
template <class A, class... R>
struct shape<A, R...> : join<leaf<A>, shape<R...>> {};

template <class E, int N, class F, class... A>
inline auto vmap(F f, const A&... a) {
  if constexpr (N == 0) {
    return f(E(a)...);
  } else {
    using R = decltype(f(E(vget(a, 0))...));
    vec<R, N> r;
    for (int i = 0; i < N; ++i) r.elems[i] = f(E(vget(a, i))...);
    return r;
  }
}

template <class T>
constexpr bool is_signed_int_v = std::is_integral<T>::value && std::is_signed<T>::value;

template <class T>
inline T fmax_(T x, T y) {
  if constexpr (is_mfloat_v<T>) {
    T m = x < y ? y : x;
    return x != x ? y : m;  // NaN operand: return the other one
  } else {
    return x < y ? y : x;
  }
}
template <class T>
inline T fmin_(T x, T y) {
  if constexpr (is_mfloat_v<T>) {
    T m = y < x ? y : x;
    return x != x ? y : m;
  } else {
    return y < x ? y : x;
  }
}
template <class T>
inline T below_one() {  // largest value < 1 in T
  if constexpr (std::is_same<T, half>::value)
    return half(0x1.ffcp-1f);
  else if constexpr (std::is_same<T, bfloat>::value)
    return bfloat(0x1.fep-1f);
  else
    return T(0x1.fffffep-1f);
}

template <class T>
inline uint64_t bits_of(T x) {
  if constexpr (sizeof(T) == 2)
    return __builtin_bit_cast(uint16_t, x);
  else if constexpr (sizeof(T) == 4)
    return __builtin_bit_cast(uint32_t, x);
  else
    return __builtin_bit_cast(uint64_t, x);
}

// sum of the squares of a vector's components, in float (length, normalize)
template <class A>
inline float sum_of_squares(const A& a) {
  float s = 0.0f;
  for (int i = 0; i < vt<A>::n; ++i) s += float(a.elems[i]) * float(a.elems[i]);
  return s;
}

template <class A>
using fp_same_t =
    std::conditional_t<vt<A>::any, vec<fp_of_t<typename vt<A>::elem>, vt<A>::n>, fp_of_t<A>>;
template <class A, class T>
using with_elem_t = std::conditional_t<vt<A>::any, vec<T, vt<A>::n>, T>;

// The condition type of select for N components (0: a scalar).
template <int N>
struct bool_of {
  using type = vec<bool, N>;
};
template <>
struct bool_of<0> {
  using type = bool;
};

}  // namespace detail

// All functions live in an inline namespace so fast:: / precise:: and the global scope can
// import them with a single using-directive.
inline namespace mathfn {

#define METAL_SHAPE(...) class S = detail::shape<__VA_ARGS__>, std::enable_if_t<S::ok, int> = 0

// ---- floating-point functions of one argument --------------------------------------------
#define METAL_FP1(NAME, EXPR)                    \
  template <class A, METAL_SHAPE(A)>             \
  inline auto NAME(const A& a) {                 \
    using E = detail::fp_of_t<typename S::elem>; \
    return detail::vmap<E, S::n>(                \
        [](E e) {                                \
          const float x = float(e);              \
          (void)x;                               \
          return E(EXPR);                        \
        },                                       \
        a);                                      \
  }

METAL_FP1(exp, __builtin_expf(x))
METAL_FP1(exp2, __builtin_exp2f(x))
#if defined(__clang__)
METAL_FP1(exp10, __builtin_powf(10.0f, x))
#else
METAL_FP1(exp10, __builtin_exp10f(x))
#endif
METAL_FP1(log, __builtin_logf(x))
METAL_FP1(log2, __builtin_log2f(x))
METAL_FP1(log10, __builtin_log10f(x))
METAL_FP1(sqrt, __builtin_sqrtf(x))
METAL_FP1(rsqrt, 1.0f / __builtin_sqrtf(x))
METAL_FP1(sin, __builtin_sinf(x))
METAL_FP1(cos, __builtin_cosf(x))
METAL_FP1(tan, __builtin_tanf(x))
METAL_FP1(asin, __builtin_asinf(x))
METAL_FP1(acos, __builtin_acosf(x))
METAL_FP1(atan, __builtin_atanf(x))
METAL_FP1(sinh, __builtin_sinhf(x))
METAL_FP1(cosh, __builtin_coshf(x))
METAL_FP1(tanh, __builtin_tanhf(x))
METAL_FP1(asinh, __builtin_asinhf(x))
METAL_FP1(acosh, __builtin_acoshf(x))
METAL_FP1(atanh, __builtin_atanhf(x))
METAL_FP1(sinpi, float(__builtin_sin(3.14159265358979323846 * double(x))))
METAL_FP1(cospi, float(__builtin_cos(3.14159265358979323846 * double(x))))
METAL_FP1(tanpi, float(__builtin_tan(3.14159265358979323846 * double(x))))
METAL_FP1(fabs, __builtin_fabsf(x))
METAL_FP1(floor, __builtin_floorf(x))
METAL_FP1(ceil, __builtin_ceilf(x))
METAL_FP1(round, __builtin_roundf(x))
METAL_FP1(rint, __builtin_rintf(x))
METAL_FP1(trunc, __builtin_truncf(x))
METAL_FP1(sign,
          x > 0.0f ? 1.0f : (x < 0.0f ? -1.0f : (x == 0.0f ? __builtin_copysignf(0.0f, x) : 0.0f)))
METAL_FP1(saturate, x < 0.0f ? 0.0f : (x > 1.0f ? 1.0f : (x == x ? x : 0.0f)))
METAL_FP1(logb, __builtin_logbf(x))
#undef METAL_FP1

// fract(x) = x - floor(x), always < 1 (also after rounding to half/bfloat)
template <class A, METAL_SHAPE(A)>
inline auto fract(const A& a) {
  using E = detail::fp_of_t<typename S::elem>;
  return detail::vmap<E, S::n>(
      [](E e) {
        const float x = float(e);
        E r = E(x - __builtin_floorf(x));
        return r >= E(1.0f) ? detail::below_one<E>() : r;
      },
      a);
}

// ---- floating-point functions of two / three arguments -------------------------------------
#define METAL_FP2(NAME, EXPR)                       \
  template <class A, class B, METAL_SHAPE(A, B)>    \
  inline auto NAME(const A& a, const B& b) {        \
    using E = detail::fp_of_t<typename S::elem>;    \
    return detail::vmap<E, S::n>(                   \
        [](E ex, E ey) {                            \
          const float x = float(ex), y = float(ey); \
          return E(EXPR);                           \
        },                                          \
        a, b);                                      \
  }
METAL_FP2(pow, __builtin_powf(x, y))
METAL_FP2(powr, __builtin_powf(x, y))
METAL_FP2(atan2, __builtin_atan2f(x, y))
METAL_FP2(fmod, __builtin_fmodf(x, y))
METAL_FP2(copysign, __builtin_copysignf(x, y))
METAL_FP2(fdim, __builtin_fdimf(x, y))
METAL_FP2(divide, x / y)
METAL_FP2(step, y < x ? 0.0f : 1.0f)  // step(edge, x)
METAL_FP2(maxmag, __builtin_fabsf(x) > __builtin_fabsf(y)
                      ? x
                      : (__builtin_fabsf(y) > __builtin_fabsf(x) ? y : detail::fmax_(x, y)))
METAL_FP2(minmag, __builtin_fabsf(x) < __builtin_fabsf(y)
                      ? x
                      : (__builtin_fabsf(y) < __builtin_fabsf(x) ? y : detail::fmin_(x, y)))
#undef METAL_FP2

template <class A, class B, METAL_SHAPE(A, B)>
inline auto fmax(const A& a, const B& b) {
  using E = detail::fp_of_t<typename S::elem>;
  return detail::vmap<E, S::n>([](E x, E y) { return detail::fmax_(x, y); }, a, b);
}
template <class A, class B, METAL_SHAPE(A, B)>
inline auto fmin(const A& a, const B& b) {
  using E = detail::fp_of_t<typename S::elem>;
  return detail::vmap<E, S::n>([](E x, E y) { return detail::fmin_(x, y); }, a, b);
}

// nextafter steps by one ulp of the argument's own type (half/bfloat/float)
template <class A, class B, METAL_SHAPE(A, B)>
inline auto nextafter(const A& a, const B& b) {
  using E = detail::fp_of_t<typename S::elem>;
  return detail::vmap<E, S::n>(
      [](E x, E y) -> E {
        if constexpr (std::is_same<E, float>::value) {
          return __builtin_nextafterf(x, y);
        } else {
          if (x != x || y != y) return E(__builtin_nanf(""));
          if (x == y) return y;
          uint16_t u = __builtin_bit_cast(uint16_t, x);
          if (float(x) == 0.0f) {
            u = uint16_t(float(y) > 0.0f ? 1u : 0x8001u);
          } else if ((float(x) < float(y)) == (float(x) > 0.0f)) {
            ++u;
          } else {
            --u;
          }
          return __builtin_bit_cast(E, u);
        }
      },
      a, b);
}

#define METAL_FP3(NAME, EXPR)                                      \
  template <class A, class B, class C, METAL_SHAPE(A, B, C)>       \
  inline auto NAME(const A& a, const B& b, const C& c) {           \
    using E = detail::fp_of_t<typename S::elem>;                   \
    return detail::vmap<E, S::n>(                                  \
        [](E ex, E ey, E ez) {                                     \
          const float x = float(ex), y = float(ey), z = float(ez); \
          return E(EXPR);                                          \
        },                                                         \
        a, b, c);                                                  \
  }
METAL_FP3(fma, __builtin_fmaf(x, y, z))
METAL_FP3(mad, x* y + z)
METAL_FP3(mix, x + (y - x) * z)  // mix(x, y, a)
METAL_FP3(smoothstep, ([&] {
            float t = (z - x) / (y - x);
            t = t < 0.0f ? 0.0f : (t > 1.0f ? 1.0f : t);
            return t * t * (3.0f - 2.0f * t);
          }()))  // smoothstep(edge0, edge1, x)
#undef METAL_FP3

// ---- functions for integer and floating-point types -----------------------------------------
template <class A, METAL_SHAPE(A)>
inline auto abs(const A& a) {
  using E = typename S::elem;
  return detail::vmap<E, S::n>(
      [](E x) -> E {
        if constexpr (detail::is_mfloat_v<E>)
          return E(__builtin_fabsf(float(x)));
        else if constexpr (detail::is_signed_int_v<E>)
          return x < 0 ? E(std::make_unsigned_t<E>(0) - std::make_unsigned_t<E>(x)) : x;
        else
          return x;
      },
      a);
}
// Computed in the element type E itself (no round trip through float).
#define METAL_ANY2(NAME, EXPR)                                         \
  template <class A, class B, METAL_SHAPE(A, B)>                       \
  inline auto NAME(const A& a, const B& b) {                           \
    using E = typename S::elem;                                        \
    return detail::vmap<E, S::n>([](E x, E y) { return EXPR; }, a, b); \
  }
#define METAL_ANY3(NAME, EXPR)                                                 \
  template <class A, class B, class C, METAL_SHAPE(A, B, C)>                   \
  inline auto NAME(const A& a, const B& b, const C& c) {                       \
    using E = typename S::elem;                                                \
    return detail::vmap<E, S::n>([](E x, E y, E z) { return EXPR; }, a, b, c); \
  }
METAL_ANY2(max, detail::fmax_(x, y))
METAL_ANY2(min, detail::fmin_(x, y))
METAL_ANY3(clamp, detail::fmin_(detail::fmax_(x, y), z))  // clamp(x, minval, maxval)
METAL_ANY3(max3, detail::fmax_(detail::fmax_(x, y), z))
METAL_ANY3(min3, detail::fmin_(detail::fmin_(x, y), z))
METAL_ANY3(median3, detail::fmax_(detail::fmin_(x, y), detail::fmin_(detail::fmax_(x, y), z)))
#undef METAL_ANY3
#undef METAL_ANY2

template <class A, class B, class C, METAL_SHAPE(A, B, C)>
inline auto fmax3(const A& a, const B& b, const C& c) {
  return max3(a, b, c);
}
template <class A, class B, class C, METAL_SHAPE(A, B, C)>
inline auto fmin3(const A& a, const B& b, const C& c) {
  return min3(a, b, c);
}
template <class A, class B, class C, METAL_SHAPE(A, B, C)>
inline auto fmedian3(const A& a, const B& b, const C& c) {
  return median3(a, b, c);
}

// ---- functions with an output/int parameter -------------------------------------------------

// sincos(x, cosval): returns sin(x), stores cos(x)
template <class A, METAL_SHAPE(A)>
inline auto sincos(const A& a, detail::fp_same_t<A>& c) {
  using E = detail::fp_of_t<typename S::elem>;
  detail::fp_same_t<A> s;
  for (int i = 0; i < (S::n ? S::n : 1); ++i) {
    const float x = float(detail::vget(a, i));
    detail::vset(s, i, E(__builtin_sinf(x)));
    detail::vset(c, i, E(__builtin_cosf(x)));
  }
  return s;
}
// modf(x, intval): returns the fractional part, stores the integral part
template <class A, METAL_SHAPE(A)>
inline auto modf(const A& a, detail::fp_same_t<A>& ip) {
  using E = detail::fp_of_t<typename S::elem>;
  detail::fp_same_t<A> f;
  for (int i = 0; i < (S::n ? S::n : 1); ++i) {
    float in, x = float(E(detail::vget(a, i)));
    float fr = __builtin_modff(x, &in);
    detail::vset(f, i, E(fr));
    detail::vset(ip, i, E(in));
  }
  return f;
}
// frexp(x, exponent): mantissa in [0.5, 1), stores the exponent (int or intN)
template <class A, METAL_SHAPE(A)>
inline auto frexp(const A& a, detail::with_elem_t<A, int>& e) {
  using E = detail::fp_of_t<typename S::elem>;
  detail::fp_same_t<A> m;
  for (int i = 0; i < (S::n ? S::n : 1); ++i) {
    int ex;
    float r = __builtin_frexpf(float(E(detail::vget(a, i))), &ex);
    detail::vset(m, i, E(r));
    detail::vset(e, i, ex);
  }
  return m;
}
// ldexp(x, k): x * 2^k (k int or intN)
template <class A, class K, METAL_SHAPE(A)>
inline auto ldexp(const A& a, const K& k) {
  using E = detail::fp_of_t<typename S::elem>;
  detail::fp_same_t<A> r;
  for (int i = 0; i < (S::n ? S::n : 1); ++i)
    detail::vset(r, i, E(__builtin_ldexpf(float(E(detail::vget(a, i))), int(detail::vget(k, i)))));
  return r;
}
template <class A, METAL_SHAPE(A)>
inline auto ilogb(const A& a) {
  using E = detail::fp_of_t<typename S::elem>;
  return detail::vmap<E, S::n>([](E x) { return int(__builtin_ilogbf(float(x))); }, a);
}

// ---- relational ------------------------------------------------------------------------------
#define METAL_PRED1(NAME, EXPR)                  \
  template <class A, METAL_SHAPE(A)>             \
  inline auto NAME(const A& a) {                 \
    using E = detail::fp_of_t<typename S::elem>; \
    return detail::vmap<E, S::n>(                \
        [](E e) -> bool {                        \
          const float x = float(e);              \
          return EXPR;                           \
        },                                       \
        a);                                      \
  }
METAL_PRED1(isnan, __builtin_isnan(x))
METAL_PRED1(isinf, __builtin_isinf(x))
METAL_PRED1(isfinite, __builtin_isfinite(x))
METAL_PRED1(isnormal, (std::is_same<E, half>::value
                           ? (__builtin_isfinite(x) && __builtin_fabsf(x) >= 0x1p-14f)
                           : bool(__builtin_isnormal(x))))
METAL_PRED1(signbit, __builtin_signbit(x) != 0)
#undef METAL_PRED1
#if defined(_LIBCPP_VERSION)
// libc++ (Apple's) declares signbit only as templates, which tie with ours for a float argument;
// a non-template overload is preferred to both. (libstdc++ has non-template ones, which win.)
inline bool signbit(float x) {
  return __builtin_signbit(x) != 0;
}
#endif

#define METAL_PRED2(NAME, EXPR)                                                \
  template <class A, class B, METAL_SHAPE(A, B)>                               \
  inline auto NAME(const A& a, const B& b) {                                   \
    using E = typename S::elem;                                                \
    return detail::vmap<E, S::n>([](E x, E y) -> bool { return EXPR; }, a, b); \
  }
METAL_PRED2(isequal, x == y)
METAL_PRED2(isnotequal, x != y)
METAL_PRED2(isgreater, x > y)
METAL_PRED2(isgreaterequal, x >= y)
METAL_PRED2(isless, x < y)
METAL_PRED2(islessequal, x <= y)
METAL_PRED2(islessgreater, x<y || x> y)
METAL_PRED2(isordered, x == x && y == y)
METAL_PRED2(isunordered, !(x == x && y == y))
#undef METAL_PRED2

template <class A, std::enable_if_t<detail::vt<A>::any || std::is_same<A, bool>::value, int> = 0>
inline bool all(const A& v) {
  if constexpr (detail::vt<A>::any) {
    bool r = true;
    for (int i = 0; i < detail::vt<A>::n; ++i) r = r && bool(v.elems[i]);
    return r;
  } else {
    return v;
  }
}
template <class A, std::enable_if_t<detail::vt<A>::any || std::is_same<A, bool>::value, int> = 0>
inline bool any(const A& v) {
  if constexpr (detail::vt<A>::any) {
    bool r = false;
    for (int i = 0; i < detail::vt<A>::n; ++i) r = r || bool(v.elems[i]);
    return r;
  } else {
    return v;
  }
}
// select(a, b, c): c ? b : a, component-wise for vectors. As in Metal, c is not deduced: it is
// bool (boolN for N-vectors), so an integer condition converts (select(1, -1, bits & mask)).
template <class A, class B, METAL_SHAPE(A, B)>
inline auto select(const A& a, const B& b, typename detail::bool_of<S::n>::type c) {
  using E = typename S::elem;
  if constexpr (S::n == 0) {
    return c ? E(b) : E(a);
  } else {
    vec<E, S::n> r;
    for (int i = 0; i < S::n; ++i)
      r.elems[i] = c.elems[i] ? E(detail::vget(b, i)) : E(detail::vget(a, i));
    return r;
  }
}

// ---- geometric ---------------------------------------------------------------------------
template <class A, class B, METAL_SHAPE(A, B), std::enable_if_t<(S::n > 0), int> = 0>
inline auto dot(const A& a, const B& b) {
  using E = typename S::elem;
  E s = E(a.elems[0]) * E(b.elems[0]);
  for (int i = 1; i < S::n; ++i) s = E(s + E(a.elems[i]) * E(b.elems[i]));
  return s;
}
template <class A, METAL_SHAPE(A), std::enable_if_t<(S::n > 0), int> = 0>
inline auto length_squared(const A& a) {
  return dot(a, a);
}
template <class A, METAL_SHAPE(A), std::enable_if_t<(S::n > 0), int> = 0>
inline auto length(const A& a) {
  using E = detail::fp_of_t<typename S::elem>;
  return E(__builtin_sqrtf(detail::sum_of_squares(a)));
}
template <class A, class B, METAL_SHAPE(A, B), std::enable_if_t<(S::n > 0), int> = 0>
inline auto distance(const A& a, const B& b) {
  return length(vec<typename S::elem, S::n>(a) - b);
}
template <class A, class B, METAL_SHAPE(A, B), std::enable_if_t<(S::n > 0), int> = 0>
inline auto distance_squared(const A& a, const B& b) {
  auto d = vec<typename S::elem, S::n>(a) - b;
  return dot(d, d);
}
template <class A, METAL_SHAPE(A), std::enable_if_t<(S::n > 0), int> = 0>
inline auto normalize(const A& a) {
  using E = detail::fp_of_t<typename S::elem>;
  const float k = 1.0f / __builtin_sqrtf(detail::sum_of_squares(a));
  vec<E, S::n> r;
  for (int i = 0; i < S::n; ++i) r.elems[i] = E(float(a.elems[i]) * k);
  return r;
}
template <class A, class B, METAL_SHAPE(A, B), std::enable_if_t<S::n == 3, int> = 0>
inline auto cross(const A& a, const B& b) {
  using V = vec<typename S::elem, 3>;
  const V x(a), y(b);
  return V(x.y * y.z - x.z * y.y, x.z * y.x - x.x * y.z, x.x * y.y - x.y * y.x);
}
// reflect(i, n) = i - 2 * dot(n, i) * n
template <class A, class B, METAL_SHAPE(A, B), std::enable_if_t<(S::n > 0), int> = 0>
inline auto reflect(const A& i, const B& n) {
  using V = vec<typename S::elem, S::n>;
  const V vi(i), vn(n);
  return V(vi - vn * (typename S::elem(2) * dot(vn, vi)));
}
template <class A, class B, class C, METAL_SHAPE(A, B), std::enable_if_t<(S::n > 0), int> = 0>
inline auto refract(const A& i, const B& n, const C& eta) {
  using E = typename S::elem;
  using V = vec<E, S::n>;
  const V vi(i), vn(n);
  const float d = float(dot(vn, vi)), e = float(eta);
  const float k = 1.0f - e * e * (1.0f - d * d);
  if (k < 0.0f) return V(E(0));
  return V(vi * E(e) - vn * E(e * d + __builtin_sqrtf(k)));
}
template <class A, class B, class C, METAL_SHAPE(A, B, C), std::enable_if_t<(S::n > 0), int> = 0>
inline auto faceforward(const A& n, const B& i, const C& nref) {
  using V = vec<typename S::elem, S::n>;
  return dot(V(nref), V(i)) < 0 ? V(n) : V(-V(n));
}

// ---- integer functions -------------------------------------------------------------------------
}  // namespace mathfn
namespace idetail {
template <class T>
using U = std::make_unsigned_t<T>;
template <class T>
constexpr int W = int(sizeof(T) * 8);
template <class T>
inline int clz(T x) {
  const uint64_t u = uint64_t(U<T>(x));
  return u == 0 ? W<T> : __builtin_clzll(u) - (64 - W<T>);
}
template <class T>
inline int ctz(T x) {
  const uint64_t u = uint64_t(U<T>(x));
  return u == 0 ? W<T> : __builtin_ctzll(u);
}
template <class T>
inline T mulhi(T x, T y) {
  if constexpr (sizeof(T) == 8) {
    using W2 = std::conditional_t<std::is_signed<T>::value, __int128, unsigned __int128>;
    return T((W2(x) * W2(y)) >> 64);
  } else {
    using W2 = std::conditional_t<std::is_signed<T>::value, int64_t, uint64_t>;
    return T((W2(x) * W2(y)) >> W<T>);
  }
}
template <class T>
inline T addsat(T x, T y) {
  T r;
  if (!__builtin_add_overflow(x, y, &r)) return r;
  if constexpr (std::is_signed<T>::value)
    return y > 0 ? std::numeric_limits<T>::max() : std::numeric_limits<T>::min();
  else
    return std::numeric_limits<T>::max();
}
template <class T>
inline T subsat(T x, T y) {
  T r;
  if (!__builtin_sub_overflow(x, y, &r)) return r;
  if constexpr (std::is_signed<T>::value)
    return y < 0 ? std::numeric_limits<T>::max() : std::numeric_limits<T>::min();
  else
    return T(0);
}
}  // namespace idetail
inline namespace mathfn {

#define METAL_INT1(NAME, EXPR)                                                    \
  template <class A, METAL_SHAPE(A),                                              \
            std::enable_if_t<std::is_integral<typename S::elem>::value, int> = 0> \
  inline auto NAME(const A& a) {                                                  \
    using E = typename S::elem;                                                   \
    return detail::vmap<E, S::n>([](E x) { return E(EXPR); }, a);                 \
  }
METAL_INT1(popcount, __builtin_popcountll(uint64_t(idetail::U<E>(x))))
METAL_INT1(clz, idetail::clz(x))
METAL_INT1(ctz, idetail::ctz(x))
METAL_INT1(reverse_bits, ([&] {
             uint64_t u = uint64_t(idetail::U<E>(x)), r = 0;
             for (int i = 0; i < idetail::W<E>; ++i)
               r |= ((u >> i) & 1u) << (idetail::W<E> - 1 - i);
             return r;
           }()))
#undef METAL_INT1

#define METAL_INT2(NAME, EXPR)                                                    \
  template <class A, class B, METAL_SHAPE(A, B),                                  \
            std::enable_if_t<std::is_integral<typename S::elem>::value, int> = 0> \
  inline auto NAME(const A& a, const B& b) {                                      \
    using E = typename S::elem;                                                   \
    return detail::vmap<E, S::n>([](E x, E y) { return E(EXPR); }, a, b);         \
  }
METAL_INT2(mulhi, idetail::mulhi(x, y))
METAL_INT2(mul24, int64_t(x) * int64_t(y))
METAL_INT2(absdiff, x > y ? idetail::U<E>(idetail::U<E>(x) - idetail::U<E>(y))
                          : idetail::U<E>(idetail::U<E>(y) - idetail::U<E>(x)))
METAL_INT2(addsat, idetail::addsat(x, y))
METAL_INT2(subsat, idetail::subsat(x, y))
METAL_INT2(hadd, (x >> 1) + (y >> 1) + (x & y & 1))
METAL_INT2(rhadd, (x >> 1) + (y >> 1) + ((x | y) & 1))
METAL_INT2(rotate, ([&] {
             const int s = int(idetail::U<E>(y) % idetail::U<E>(idetail::W<E>));
             const idetail::U<E> u = idetail::U<E>(x);
             return s == 0 ? u : idetail::U<E>((u << s) | (u >> (idetail::W<E> - s)));
           }()))
#undef METAL_INT2

#define METAL_INT3(NAME, EXPR)                                                    \
  template <class A, class B, class C, METAL_SHAPE(A, B, C),                      \
            std::enable_if_t<std::is_integral<typename S::elem>::value, int> = 0> \
  inline auto NAME(const A& a, const B& b, const C& c) {                          \
    using E = typename S::elem;                                                   \
    return detail::vmap<E, S::n>([](E x, E y, E z) { return E(EXPR); }, a, b, c); \
  }
METAL_INT3(madhi, idetail::mulhi(x, y) + z)
METAL_INT3(mad24, int64_t(x) * int64_t(y) + int64_t(z))
METAL_INT3(madsat, ([&] {
             E p;
             if (__builtin_mul_overflow(x, y, &p))
               return ((x < 0) != (y < 0)) ? std::numeric_limits<E>::min()
                                           : std::numeric_limits<E>::max();
             return idetail::addsat(p, z);
           }()))
#undef METAL_INT3

// extract_bits(x, offset, bits): bits [offset, offset+bits) of x, sign-extended for signed types
template <class A, METAL_SHAPE(A),
          std::enable_if_t<std::is_integral<typename S::elem>::value, int> = 0>
inline auto extract_bits(const A& a, uint offset, uint bits) {
  using E = typename S::elem;
  return detail::vmap<E, S::n>(
      [offset, bits](E x) -> E {
        constexpr int W = idetail::W<E>;
        if (bits == 0) return E(0);
        const uint64_t u = uint64_t(idetail::U<E>(x))
                           << (64 - W) << (W - offset - bits);  // field at the top
        if constexpr (std::is_signed<E>::value)
          return E(int64_t(u) >> (64 - bits));
        else
          return E(u >> (64 - bits));
      },
      a);
}
// insert_bits(base, insert, offset, bits)
template <class A, class B, METAL_SHAPE(A, B),
          std::enable_if_t<std::is_integral<typename S::elem>::value, int> = 0>
inline auto insert_bits(const A& base, const B& ins, uint offset, uint bits) {
  using E = typename S::elem;
  return detail::vmap<E, S::n>(
      [offset, bits](E b, E i) -> E {
        if (bits == 0) return b;
        const uint64_t mask = (bits >= 64 ? ~uint64_t(0) : ((uint64_t(1) << bits) - 1)) << offset;
        const uint64_t ub = uint64_t(idetail::U<E>(b)), ui = uint64_t(idetail::U<E>(i));
        return E(idetail::U<E>((ub & ~mask) | ((ui << offset) & mask)));
      },
      base, ins);
}

#undef METAL_SHAPE
}  // namespace mathfn

// The floating-point functions, also in fast:: and precise:: (the same host functions).
// clang-format off
#define METAL_FAST_PRECISE(X)                                                                   \
  X(abs) X(acos) X(acosh) X(asin) X(asinh) X(atan) X(atan2) X(atanh) X(ceil) X(clamp)          \
  X(copysign) X(cos) X(cosh) X(cospi) X(distance) X(divide) X(exp) X(exp10) X(exp2) X(fabs)    \
  X(fdim) X(floor) X(fma) X(fmax) X(fmax3) X(fmedian3) X(fmin) X(fmin3) X(fmod) X(fract)       \
  X(frexp) X(ilogb) X(ldexp) X(length) X(log) X(log10) X(log2) X(logb) X(max) X(max3)         \
  X(maxmag) X(median3) X(min) X(min3) X(minmag) X(modf) X(nextafter) X(normalize) X(pow)       \
  X(powr) X(rint) X(round) X(rsqrt) X(saturate) X(sign) X(sin) X(sincos) X(sinh) X(sinpi)      \
  X(smoothstep) X(sqrt) X(step) X(tan) X(tanh) X(tanpi) X(trunc)
// clang-format on
#define METAL_USING(NAME) using ::metal::mathfn::NAME;
namespace fast {
METAL_FAST_PRECISE(METAL_USING)
}
namespace precise {
METAL_FAST_PRECISE(METAL_USING)
}
#undef METAL_USING
#undef METAL_FAST_PRECISE

}  // namespace metal
