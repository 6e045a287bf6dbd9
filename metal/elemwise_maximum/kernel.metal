// Threads: one per element (vv: same-shape contiguous) or per 4-element run of a row (g/gs/sg).
// Traffic: the minimum (inputs read once, output written once); broadcast reads hit the cache.
#include "common/binary_elemwise.h"

// out = max(a, b), NaN if either is NaN, with numpy broadcasting.
struct MaximumOp {
  template <typename T>
  T operator()(T x, T y) const { return (x >= y || x != x) ? x : y; }
};

METALLIC_BINARY_KERNELS(elemwise_maximum, MaximumOp)
