// Emulated MSL scalar types: half (= the compiler's _Float16, every arithmetic op rounds to binary16
// like the GPU), bfloat (uint16 storage, round-to-nearest-even from float), MSL integer typedefs, and the
// internal type traits the rest of the emulation is built on.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#if !defined(__FLT16_MAX__)
#error "metallic MSL emulation needs a compiler with _Float16 support (g++ >= 12, clang >= 15)"
#endif

// MSL scalar type names live in the global namespace (glibc's <sys/types.h> may already declare
// ushort/uint/ulong with the same types on LP64, which is a compatible redeclaration).
typedef _Float16 half;
typedef unsigned char uchar;
typedef unsigned short ushort;
typedef unsigned int uint;
typedef unsigned long ulong;  // 64-bit on LP64, like MSL ulong
static_assert(sizeof(long) == 8, "MSL long/ulong are 64-bit; LP64 host required");

namespace metal {

using ::half;
using ::uchar;
using ::uint;
using ::ulong;
using ::ushort;
using std::ptrdiff_t;
using std::size_t;

// ------------------------------------------------------------------------------------------
// bfloat: brain float (1-8-7).  Arithmetic is done in float and rounded back (RNE) per op.
// ------------------------------------------------------------------------------------------
struct bfloat {
  uint16_t bits;

  static constexpr uint16_t from_float(float f) {
    uint32_t u = __builtin_bit_cast(uint32_t, f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return uint16_t((u >> 16) | 0x40u);  // quiet NaN
    u += 0x7fffu + ((u >> 16) & 1u);
    return uint16_t(u >> 16);
  }
  static constexpr bfloat from_bits(uint16_t b) {
    bfloat r{};
    r.bits = b;
    return r;
  }

  // Conversions as in MSL: integers convert implicitly, float and half only explicitly; a
  // bfloat converts implicitly to float and bool, explicitly to half, double and the integers. (So that
  // `c ? bf : 0` is a bfloat, and `bfloat b = 1.0f;` does not compile, as on the GPU.)
  bfloat() = default;
  explicit constexpr bfloat(float f) : bits(from_float(f)) {}
  template <class U, std::enable_if_t<std::is_floating_point<U>::value || std::is_same<U, half>::value,
                                      int> = 0>
  explicit constexpr bfloat(U u) : bits(from_float(float(u))) {}
  template <class U, std::enable_if_t<std::is_integral<U>::value, int> = 0>
  constexpr bfloat(U u) : bits(from_float(float(u))) {}
  // One conversion template to float and bool: its argument is deduced from the target, so no
  // conversion sequence goes through bool (or float) to int or double.
  template <class F,
            std::enable_if_t<std::is_same<F, float>::value || std::is_same<F, bool>::value, int> = 0>
  constexpr operator F() const {
    return F(__builtin_bit_cast(float, uint32_t(bits) << 16));
  }
  template <class U, std::enable_if_t<(std::is_arithmetic<U>::value || std::is_same<U, half>::value) &&
                                          !std::is_same<U, float>::value &&
                                          !std::is_same<U, bool>::value,
                                      int> = 0>
  explicit constexpr operator U() const {
    return U(float(*this));
  }

  constexpr bfloat operator-() const { return from_bits(uint16_t(bits ^ 0x8000u)); }
  constexpr bfloat operator+() const { return *this; }
  template <class U>
  bfloat& operator+=(const U& u) {
    return *this = bfloat(float(*this) + float(u));
  }
  template <class U>
  bfloat& operator-=(const U& u) {
    return *this = bfloat(float(*this) - float(u));
  }
  template <class U>
  bfloat& operator*=(const U& u) {
    return *this = bfloat(float(*this) * float(u));
  }
  template <class U>
  bfloat& operator/=(const U& u) {
    return *this = bfloat(float(*this) / float(u));
  }
  bfloat& operator++() { return *this += 1.0f; }
  bfloat& operator--() { return *this -= 1.0f; }
  bfloat operator++(int) {
    bfloat t = *this;
    *this += 1.0f;
    return t;
  }
  bfloat operator--(int) {
    bfloat t = *this;
    *this -= 1.0f;
    return t;
  }
};
static_assert(sizeof(bfloat) == 2 && std::is_trivially_copyable<bfloat>::value, "bfloat layout");

namespace detail {

template <class T>
struct is_bfloat : std::false_type {};
template <>
struct is_bfloat<bfloat> : std::true_type {};

// "metal scalar": arithmetic C++ types, half, bfloat.
template <class T>
struct is_mscalar
    : std::integral_constant<bool, std::is_arithmetic<T>::value || std::is_same<T, half>::value ||
                                       std::is_same<T, bfloat>::value> {};
template <class T>
constexpr bool is_mscalar_v = is_mscalar<T>::value;

template <class T>
struct is_mfloat : std::integral_constant<bool, std::is_floating_point<T>::value ||
                                                    std::is_same<T, half>::value ||
                                                    std::is_same<T, bfloat>::value> {};
template <class T>
constexpr bool is_mfloat_v = is_mfloat<T>::value;

// Result element type of a floating-point math function: float stays float, half stays half,
// bfloat stays bfloat, double (MSL has none: unsuffixed literals are float) and integers -> float.
template <class T>
struct fp_of {
  using type = float;
};
template <>
struct fp_of<half> {
  using type = half;
};
template <>
struct fp_of<bfloat> {
  using type = bfloat;
};
template <class T>
using fp_of_t = typename fp_of<T>::type;

// Element type for mixed scalar arguments of metal:: functions (more permissive than MSL, which
// mostly rejects mixed types as ambiguous): same type -> itself; any float/double -> float;
// half+bfloat -> float; half with integer -> half; bfloat with integer -> bfloat;
// integers -> usual arithmetic conversions.
template <class A, class B>
struct scommon2 {
  static constexpr bool af = std::is_floating_point<A>::value,
                        bf = std::is_floating_point<B>::value;
  static constexpr bool ah = std::is_same<A, half>::value, bh = std::is_same<B, half>::value;
  static constexpr bool ab = std::is_same<A, bfloat>::value, bb = std::is_same<B, bfloat>::value;
  using type = std::conditional_t<
      std::is_same<A, B>::value, std::conditional_t<std::is_same<A, double>::value, float, A>,
      std::conditional_t<
          af || bf || ((ah || bh) && (ab || bb)), float,
          std::conditional_t<ah || bh, half,
                             std::conditional_t<ab || bb, bfloat, std::common_type_t<A, B>>>>>;
};
template <class A, class B>
using scommon2_t = typename scommon2<A, B>::type;

// Result type of a binary arithmetic operator between bfloat and another scalar U.
template <class U>
struct bf_arith {
  using type =
      std::conditional_t<std::is_integral<U>::value || std::is_same<U, bfloat>::value, bfloat,
                         std::conditional_t<std::is_same<U, double>::value, double, float>>;
};

}  // namespace detail

// bfloat binary operators (bfloat op bfloat|integer -> bfloat; op float/half -> float).
#define METAL_BF_BINOP(OP)                                                                      \
  constexpr bfloat operator OP(bfloat a, bfloat b) {                                               \
    return bfloat(float(a) OP float(b));                                                        \
  }                                                                                             \
  template <class U,                                                                            \
            std::enable_if_t<detail::is_mscalar_v<U> && !detail::is_bfloat<U>::value, int> = 0> \
  constexpr typename detail::bf_arith<U>::type operator OP(bfloat a, U b) {                        \
    using R = typename detail::bf_arith<U>::type;                                               \
    using C = std::conditional_t<std::is_same<R, double>::value, double, float>;                \
    return R(C(a) OP C(b));                                                                     \
  }                                                                                             \
  template <class U,                                                                            \
            std::enable_if_t<detail::is_mscalar_v<U> && !detail::is_bfloat<U>::value, int> = 0> \
  constexpr typename detail::bf_arith<U>::type operator OP(U a, bfloat b) {                        \
    using R = typename detail::bf_arith<U>::type;                                               \
    using C = std::conditional_t<std::is_same<R, double>::value, double, float>;                \
    return R(C(a) OP C(b));                                                                     \
  }
METAL_BF_BINOP(+)
METAL_BF_BINOP(-)
METAL_BF_BINOP(*)
METAL_BF_BINOP(/)
#undef METAL_BF_BINOP

#define METAL_BF_CMP(OP)                                                                        \
  constexpr bool operator OP(bfloat a, bfloat b) {                                                 \
    return float(a) OP float(b);                                                                \
  }                                                                                             \
  template <class U,                                                                            \
            std::enable_if_t<detail::is_mscalar_v<U> && !detail::is_bfloat<U>::value, int> = 0> \
  constexpr bool operator OP(bfloat a, U b) {                                                      \
    return float(a) OP b;                                                                       \
  }                                                                                             \
  template <class U,                                                                            \
            std::enable_if_t<detail::is_mscalar_v<U> && !detail::is_bfloat<U>::value, int> = 0> \
  constexpr bool operator OP(U a, bfloat b) {                                                      \
    return a OP float(b);                                                                       \
  }
METAL_BF_CMP(==)
METAL_BF_CMP(!=)
METAL_BF_CMP(<)
METAL_BF_CMP(<=)
METAL_BF_CMP(>)
METAL_BF_CMP(>=)
#undef METAL_BF_CMP

// as_type<T>(x): reinterpret the bits of a scalar/vector as another type of the same size.
template <class To, class From>
constexpr To as_type(const From& x) {
  static_assert(sizeof(To) == sizeof(From), "as_type: source and destination sizes differ");
  return __builtin_bit_cast(To, x);
}

}  // namespace metal

typedef metal::bfloat bfloat;
