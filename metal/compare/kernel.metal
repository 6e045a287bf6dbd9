// Threads: one per element (vv: same-shape contiguous) or per 4-element run of a row (g/gs/sg).
// Traffic: the minimum (inputs read once, the u8 output written once); broadcast reads hit cache.
#include "common/binary_elemwise.h"

// Comparisons with numpy broadcasting; the result is 1 or 0 (u8). NaN compares unequal to all.
#define METALLIC_COMPARE(name, Op, expr)                              \
  struct Op {                                                         \
    template <typename T>                                             \
    uchar operator()(T x, T y) const { return (expr) ? 1 : 0; }      \
  };                                                                  \
  METALLIC_BINARY_DEFINE(name, Op)                                    \
  METALLIC_BINARY_INSTANCE(name, float, uchar, f32)                   \
  METALLIC_BINARY_INSTANCE(name, half, uchar, f16)                    \
  METALLIC_BINARY_INSTANCE(name, bfloat, uchar, bf16)                 \
  METALLIC_BINARY_INSTANCE(name, int, uchar, i32)                     \
  METALLIC_BINARY_INSTANCE(name, uint, uchar, u32)                    \
  METALLIC_BINARY_INSTANCE(name, uchar, uchar, u8)

METALLIC_COMPARE(compare_equal, EqualOp, x == y)
METALLIC_COMPARE(compare_not_equal, NotEqualOp, x != y)
METALLIC_COMPARE(compare_less, LessOp, x < y)
METALLIC_COMPARE(compare_less_equal, LessEqualOp, x <= y)
METALLIC_COMPARE(compare_greater, GreaterOp, x > y)
METALLIC_COMPARE(compare_greater_equal, GreaterEqualOp, x >= y)
