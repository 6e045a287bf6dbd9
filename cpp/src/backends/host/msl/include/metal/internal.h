// Names that Metal's own stdlib headers define and make visible to kernels, which real kernels
// use although the Metal Shading Language specification does not list them (MLX and candle do,
// mostly after `#pragma METAL internals : enable`):
//
// * the __metal_<function>(args..., fast) builtins behind the math and SIMD-group functions,
//   with __METAL_FAST_MATH__ / __METAL_PRECISE_MATH__ / __METAL_MAYBE_FAST_MATH__ for `fast`
//   (the host has one implementation of each: `fast` is ignored, see math.h);
// * _fp_encoding_traits<T> (encoding_type, bit_width, sign_mask, inf_mask, min_mask of half,
//   float, bfloat and their vectors), _disjunction / _conjunction / _negation,
//   __is_valid_simdgroup_type<T> (the types SIMD-group functions take).
//
// Included at the end of metal_stdlib.
#pragma once

#include <type_traits>

#include "metal/math.h"
#include "metal/runtime/runtime_stdlib.h"
#include "metal/type_traits.h"

#define __METAL_FAST_MATH__ true
#define __METAL_PRECISE_MATH__ false
#define __METAL_MAYBE_FAST_MATH__ false  // kernels are compiled as Metal's -fno-fast-math

namespace metal {

template <class... B>
struct _disjunction : std::disjunction<B...> {};
template <class... B>
struct _conjunction : std::conjunction<B...> {};
template <class B>
struct _negation : std::negation<B> {};

template <class T>
struct _fp_encoding_traits_impl;
template <class E, E Sign, E Inf, E Min>
struct _fp_encoding {
  using encoding_type = E;
  static constexpr E bit_width = sizeof(E) * 8;
  static constexpr E sign_mask = Sign;
  static constexpr E inf_mask = Inf;
  static constexpr E min_mask = Min;  // the smallest normal number
};
template <>
struct _fp_encoding_traits_impl<half> : _fp_encoding<ushort, 0x8000, 0x7c00, 0x0400> {};
template <>
struct _fp_encoding_traits_impl<bfloat> : _fp_encoding<ushort, 0x8000, 0x7f80, 0x0080> {};
template <>
struct _fp_encoding_traits_impl<float> : _fp_encoding<uint, 0x80000000u, 0x7f800000u, 0x00800000u> {
};
template <class T, int N>
struct _fp_encoding_traits_impl<vec<T, N>> {
  using scalar = _fp_encoding_traits_impl<T>;
  using encoding_type = vec<typename scalar::encoding_type, N>;
  static constexpr typename scalar::encoding_type bit_width = scalar::bit_width;
  static constexpr typename scalar::encoding_type sign_mask = scalar::sign_mask;
  static constexpr typename scalar::encoding_type inf_mask = scalar::inf_mask;
  static constexpr typename scalar::encoding_type min_mask = scalar::min_mask;
};
template <class T>
struct _fp_encoding_traits : _fp_encoding_traits_impl<std::remove_cv_t<T>> {};

// Scalars and vectors of bool, the integers up to 64 bits, half, bfloat and float.
template <class T>
struct __is_valid_simdgroup_type : bool_constant<detail::is_mscalar_v<make_scalar_t<T>> &&
                                                 !std::is_same<make_scalar_t<T>, double>::value &&
                                                 (is_scalar_v<T> || is_vector_v<T>)> {};

}  // namespace metal

// ---- __metal_<function>(..., fast) ------------------------------------------------------------
#define MTLH_BUILTIN1(NAME)                              \
  template <class A>                                     \
  inline auto __metal_##NAME(const A& a, bool = false) { \
    return ::metal::NAME(a);                             \
  }
#define MTLH_BUILTIN2(NAME)                                          \
  template <class A, class B>                                        \
  inline auto __metal_##NAME(const A& a, const B& b, bool = false) { \
    return ::metal::NAME(a, b);                                      \
  }
#define MTLH_BUILTIN3(NAME)                                                      \
  template <class A, class B, class C>                                           \
  inline auto __metal_##NAME(const A& a, const B& b, const C& c, bool = false) { \
    return ::metal::NAME(a, b, c);                                               \
  }
MTLH_BUILTIN1(acos)
MTLH_BUILTIN1(acosh)
MTLH_BUILTIN1(asin)
MTLH_BUILTIN1(asinh)
MTLH_BUILTIN1(atan)
MTLH_BUILTIN1(atanh)
MTLH_BUILTIN1(ceil)
MTLH_BUILTIN1(cos)
MTLH_BUILTIN1(cosh)
MTLH_BUILTIN1(cospi)
MTLH_BUILTIN1(exp)
MTLH_BUILTIN1(exp10)
MTLH_BUILTIN1(exp2)
MTLH_BUILTIN1(fabs)
MTLH_BUILTIN1(floor)
MTLH_BUILTIN1(fract)
MTLH_BUILTIN1(log)
MTLH_BUILTIN1(log10)
MTLH_BUILTIN1(log2)
MTLH_BUILTIN1(rint)
MTLH_BUILTIN1(round)
MTLH_BUILTIN1(rsqrt)
MTLH_BUILTIN1(sin)
MTLH_BUILTIN1(sinh)
MTLH_BUILTIN1(sinpi)
MTLH_BUILTIN1(sqrt)
MTLH_BUILTIN1(tan)
MTLH_BUILTIN1(tanh)
MTLH_BUILTIN1(tanpi)
MTLH_BUILTIN1(trunc)
MTLH_BUILTIN2(atan2)
MTLH_BUILTIN2(divide)
MTLH_BUILTIN2(fmax)
MTLH_BUILTIN2(fmin)
MTLH_BUILTIN2(fmod)
MTLH_BUILTIN2(nextafter)
MTLH_BUILTIN2(pow)
MTLH_BUILTIN2(powr)
MTLH_BUILTIN2(ldexp)
MTLH_BUILTIN3(fma)
MTLH_BUILTIN3(fmax3)
MTLH_BUILTIN3(fmin3)
MTLH_BUILTIN3(fmedian3)
#undef MTLH_BUILTIN1
#undef MTLH_BUILTIN2
#undef MTLH_BUILTIN3
/// __metal_frexp(x, &exponent)
template <class A, class E>
inline auto __metal_frexp(const A& a, E* exponent) {
  return ::metal::frexp(a, *exponent);
}

// SIMD-group builtins (MLX's bfloat overloads of simd_* call them with the bits or a float).
#define MTLH_SIMD_BUILTIN1(NAME)    \
  template <class T>                \
  inline T __metal_##NAME(T data) { \
    return ::metal::NAME(data);     \
  }
#define MTLH_SIMD_BUILTIN2(NAME)              \
  template <class T>                          \
  inline T __metal_##NAME(T data, ushort n) { \
    return ::metal::NAME(data, n);            \
  }
#define MTLH_SIMD_BUILTIN4(NAME)                                         \
  template <class T>                                                     \
  inline T __metal_##NAME(T data, T fill, ushort delta, ushort modulo) { \
    return ::metal::NAME(data, fill, delta, modulo);                     \
  }
MTLH_SIMD_BUILTIN1(simd_sum)
MTLH_SIMD_BUILTIN1(simd_product)
MTLH_SIMD_BUILTIN1(simd_min)
MTLH_SIMD_BUILTIN1(simd_max)
MTLH_SIMD_BUILTIN1(simd_and)
MTLH_SIMD_BUILTIN1(simd_or)
MTLH_SIMD_BUILTIN1(simd_xor)
MTLH_SIMD_BUILTIN1(simd_prefix_inclusive_sum)
MTLH_SIMD_BUILTIN1(simd_prefix_exclusive_sum)
MTLH_SIMD_BUILTIN1(simd_prefix_inclusive_product)
MTLH_SIMD_BUILTIN1(simd_prefix_exclusive_product)
MTLH_SIMD_BUILTIN2(simd_broadcast)
MTLH_SIMD_BUILTIN2(simd_shuffle)
MTLH_SIMD_BUILTIN2(simd_shuffle_down)
MTLH_SIMD_BUILTIN2(simd_shuffle_up)
MTLH_SIMD_BUILTIN2(simd_shuffle_rotate_down)
MTLH_SIMD_BUILTIN2(simd_shuffle_rotate_up)
MTLH_SIMD_BUILTIN2(simd_shuffle_xor)
MTLH_SIMD_BUILTIN4(simd_shuffle_and_fill_down)
MTLH_SIMD_BUILTIN4(simd_shuffle_and_fill_up)
#undef MTLH_SIMD_BUILTIN1
#undef MTLH_SIMD_BUILTIN2
#undef MTLH_SIMD_BUILTIN4
/// __metal_get_simdgroup_size(ushort()) and __metal_get_thread_index_in_simdgroup(ushort()).
template <class T>
inline T __metal_get_simdgroup_size(T) {
  return T(32);
}
template <class T>
inline T __metal_get_thread_index_in_simdgroup(T) {
  return T(::metal_host::rt::current_lane());
}
