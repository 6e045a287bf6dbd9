// Emulated MSL scalar types: half (= the compiler's _Float16) and bfloat (= __bf16), every
// arithmetic operation rounded to the type like the GPU (kernels are compiled with
// -f(b)float16-excess-precision=none), MSL integer typedefs, and the internal type traits the
// rest of the emulation is built on.
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

#if !defined(__FLT16_MAX__)
#error "metallic MSL emulation needs a compiler with _Float16 and __bf16 arithmetic (clang >= 17)"
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

// bfloat is the compiler's __bf16 (clang >= 17: an arithmetic type, each operation rounded to
// bfloat with -fbfloat16-excess-precision=none, as on the GPU), so that it converts and mixes
// with the other arithmetic types as Metal's builtin bfloat does (`c ? bf : 0` is a bfloat,
// `uint u = bf;` compiles). More permissive than Metal in one way: float and half convert to it
// implicitly.
using bfloat = __bf16;
static_assert(sizeof(bfloat) == 2, "bfloat layout");

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

// A scalar conversion as MSL's casts do it: half and bfloat convert to each other (through
// float: clang's _Float16 and __bf16 have unordered ranks, and neither converts to the other).
template <class To, class From>
constexpr To scalar_cast(const From& x) {
  if constexpr ((std::is_same<To, half>::value && std::is_same<From, bfloat>::value) ||
                (std::is_same<To, bfloat>::value && std::is_same<From, half>::value)) {
    return To(float(x));
  } else {
    return To(x);
  }
}

}  // namespace detail

// as_type<T>(x): reinterpret the bits of a scalar/vector as another type of the same size.
template <class To, class From>
constexpr To as_type(const From& x) {
  static_assert(sizeof(To) == sizeof(From), "as_type: source and destination sizes differ");
  return __builtin_bit_cast(To, x);
}

}  // namespace metal

typedef metal::bfloat bfloat;

// float -> bfloat (round to nearest even, quiet NaN): the helper clang calls for the conversion,
// which libgcc has only from GCC 13 (weak: each translated unit has a copy; not inline, since
// only the code generator calls it).
extern "C" __attribute__((weak, visibility("hidden"))) __bf16 __truncsfbf2(float f) {
  uint32_t u = __builtin_bit_cast(uint32_t, f);
  const uint16_t b = (u & 0x7fffffffu) > 0x7f800000u
                         ? uint16_t((u >> 16) | 0x40u)
                         : uint16_t((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
  return __builtin_bit_cast(__bf16, b);
}
