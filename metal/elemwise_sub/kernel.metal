// Elementwise sub: out = a - b, with b either the same shape as a (vv) or broadcast over
// a's leading dimensions (vb).
#include "common/binary_elemwise.h"

struct SubOp {
  template <typename T>
  T operator()(T x, T y) const { return x - y; }
};

METALLIC_BINARY_KERNELS(elemwise_sub, SubOp)
