// Element conversion used by the copy kernels: numpy's astype(casting="unsafe") wherever numpy
// defines the result; where it does not (float -> integer for NaN and out-of-range), a fixed rule.
#pragma once

#include <metal_stdlib>
using namespace metal;

// Integer <-> integer wraps modulo 2^bits; integer -> float and float narrowing round to nearest
// even (that is what Metal's and C++'s conversions do).
template <typename To, typename From>
struct CastOp {
  To operator()(From x) const { return static_cast<To>(x); }
};
// bfloat converts through float in both directions (exact to float; one rounding from float).
template <typename From>
struct CastOp<bfloat, From> {
  bfloat operator()(From x) const { return bfloat(float(x)); }
};
template <typename To>
struct CastOp<To, bfloat> {
  To operator()(bfloat x) const { return static_cast<To>(float(x)); }
};
template <>
struct CastOp<bfloat, bfloat> {
  bfloat operator()(bfloat x) const { return x; }
};

// Float -> integer truncates toward zero (as numpy); NaN becomes 0 and values beyond the target's
// range saturate to its min/max (numpy leaves both undefined; this makes them the same everywhere).
// NaN is recognised by its bits: Metal compiles with fast math, which may fold isnan() to false.
#define METALLIC_FLOAT_TO_INT(To, From, lowest, bound, highest) \
  template <>                                                   \
  struct CastOp<To, From> {                                     \
    To operator()(From v) const {                               \
      const float x = float(v);                                 \
      if ((as_type<uint>(x) & 0x7fffffffu) > 0x7f800000u) {     \
        return To(0);                                           \
      }                                                         \
      if (x <= (lowest)) return To(lowest);                     \
      if (x >= (bound)) return To(highest);                     \
      return To(x);                                             \
    }                                                           \
  };
#define METALLIC_FLOAT_TO_INTS(From)                                                 \
  METALLIC_FLOAT_TO_INT(int, From, -2147483648.0f, 2147483648.0f, 2147483647)        \
  METALLIC_FLOAT_TO_INT(uint, From, 0.0f, 4294967296.0f, 4294967295u)                \
  METALLIC_FLOAT_TO_INT(char, From, -128.0f, 128.0f, 127)                            \
  METALLIC_FLOAT_TO_INT(uchar, From, 0.0f, 256.0f, 255)
METALLIC_FLOAT_TO_INTS(float)
METALLIC_FLOAT_TO_INTS(half)
METALLIC_FLOAT_TO_INTS(bfloat)
#undef METALLIC_FLOAT_TO_INTS
#undef METALLIC_FLOAT_TO_INT
