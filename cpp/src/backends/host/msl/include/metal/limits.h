// Emulated MSL numeric_limits (incl. half and bfloat) and the MSL math constants/macros.
#pragma once

#include <cfloat>
#include <climits>
#include <limits>

#include "metal/scalar.h"

namespace metal {

// As in Metal's header, numeric_limits<T> derives from _numeric_limits_impl<T>, which kernels
// specialise for their own types (candle's indexed<T>).
template <class T>
struct _numeric_limits_impl : std::numeric_limits<T> {};
template <class T>
struct numeric_limits : _numeric_limits_impl<T> {};

namespace detail {
// What half and bfloat share: binary floating point with infinities and NaNs.
struct binary_float_limits {
  static constexpr bool is_specialized = true;
  static constexpr bool is_signed = true;
  static constexpr bool is_integer = false;
  static constexpr bool is_exact = false;
  static constexpr bool has_infinity = true;
  static constexpr bool has_quiet_NaN = true;
  static constexpr bool has_signaling_NaN = true;
  static constexpr int radix = 2;
};
}  // namespace detail

template <>
struct _numeric_limits_impl<half> : detail::binary_float_limits {
  static constexpr bool is_iec559 = true;
  static constexpr int digits = 11;
  static constexpr int digits10 = 3;
  static constexpr int max_digits10 = 5;
  static constexpr int min_exponent = -13;
  static constexpr int min_exponent10 = -4;
  static constexpr int max_exponent = 16;
  static constexpr int max_exponent10 = 4;
  static constexpr half min() { return half(0x1p-14f); }
  static constexpr half max() { return half(65504.0f); }
  static constexpr half lowest() { return half(-65504.0f); }
  static constexpr half epsilon() { return half(0x1p-10f); }
  static constexpr half round_error() { return half(0.5f); }
  static constexpr half infinity() { return half(__builtin_inff()); }
  static constexpr half quiet_NaN() { return half(__builtin_nanf("")); }
  static constexpr half signaling_NaN() { return __builtin_bit_cast(half, uint16_t(0x7d00)); }
  static constexpr half denorm_min() { return half(0x1p-24f); }
};

template <>
struct _numeric_limits_impl<bfloat> : detail::binary_float_limits {
  static constexpr bool is_iec559 = false;
  static constexpr int digits = 8;
  static constexpr int digits10 = 2;
  static constexpr int max_digits10 = 4;
  static constexpr int min_exponent = -125;
  static constexpr int min_exponent10 = -37;
  static constexpr int max_exponent = 128;
  static constexpr int max_exponent10 = 38;
  static constexpr bfloat min() { return __builtin_bit_cast(bfloat, uint16_t(0x0080)); }
  static constexpr bfloat max() { return __builtin_bit_cast(bfloat, uint16_t(0x7f7f)); }
  static constexpr bfloat lowest() { return __builtin_bit_cast(bfloat, uint16_t(0xff7f)); }
  static constexpr bfloat epsilon() {
    return __builtin_bit_cast(bfloat, uint16_t(0x3c00));
  }  // 2^-7
  static constexpr bfloat round_error() { return __builtin_bit_cast(bfloat, uint16_t(0x3f00)); }
  static constexpr bfloat infinity() { return __builtin_bit_cast(bfloat, uint16_t(0x7f80)); }
  static constexpr bfloat quiet_NaN() { return __builtin_bit_cast(bfloat, uint16_t(0x7fc0)); }
  static constexpr bfloat signaling_NaN() { return __builtin_bit_cast(bfloat, uint16_t(0x7fa0)); }
  static constexpr bfloat denorm_min() { return __builtin_bit_cast(bfloat, uint16_t(0x0001)); }
};

}  // namespace metal

// ---- MSL constants ------------------------------------------------------------------------------
#ifndef MAXFLOAT
#define MAXFLOAT 0x1.fffffep+127f
#endif
#ifndef INFINITY
#define INFINITY __builtin_inff()
#endif
#ifndef NAN
#define NAN __builtin_nanf("")
#endif
#define HUGE_VALH (half(__builtin_inff()))
#define MAXHALF (half(0x1.ffcp15f))
#define HALF_MAX (half(0x1.ffcp15f))
#define HALF_MIN (half(0x1p-14f))
#define HALF_EPSILON (half(0x1p-10f))
#define HALF_DIG 3
#define HALF_MANT_DIG 11
#define HALF_MAX_10_EXP 4
#define HALF_MAX_EXP 16
#define HALF_MIN_10_EXP -4
#define HALF_MIN_EXP -13
#define HALF_RADIX 2
#define BFLOAT_MAX (__builtin_bit_cast(::metal::bfloat, uint16_t(0x7f7f)))
#define BFLOAT_MIN (__builtin_bit_cast(::metal::bfloat, uint16_t(0x0080)))
#define BFLOAT_EPSILON (__builtin_bit_cast(::metal::bfloat, uint16_t(0x3c00)))

#define M_E_F 2.71828182845904523536028747135266250f
#define M_LOG2E_F 1.44269504088896340735992468100189214f
#define M_LOG10E_F 0.434294481903251827651128918916605082f
#define M_LN2_F 0.693147180559945309417232121458176568f
#define M_LN10_F 2.30258509299404568401799145468436421f
#define M_PI_F 3.14159265358979323846264338327950288f
#define M_PI_2_F 1.57079632679489661923132169163975144f
#define M_PI_4_F 0.785398163397448309615660845819875721f
#define M_1_PI_F 0.318309886183790671537767526745028724f
#define M_2_PI_F 0.636619772367581343075535053490057448f
#define M_2_SQRTPI_F 1.12837916709551257389615890312154517f
#define M_SQRT2_F 1.41421356237309504880168872420969808f
#define M_SQRT1_2_F 0.707106781186547524400844362104849039f

#define M_E_H (half(M_E_F))
#define M_LOG2E_H (half(M_LOG2E_F))
#define M_LOG10E_H (half(M_LOG10E_F))
#define M_LN2_H (half(M_LN2_F))
#define M_LN10_H (half(M_LN10_F))
#define M_PI_H (half(M_PI_F))
#define M_PI_2_H (half(M_PI_2_F))
#define M_PI_4_H (half(M_PI_4_F))
#define M_1_PI_H (half(M_1_PI_F))
#define M_2_PI_H (half(M_2_PI_F))
#define M_2_SQRTPI_H (half(M_2_SQRTPI_F))
#define M_SQRT2_H (half(M_SQRT2_F))
#define M_SQRT1_2_H (half(M_SQRT1_2_F))
