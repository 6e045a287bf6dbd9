// Threads: one per element (vv: same-shape contiguous) or per 4-element run of a row (g/gs/sg).
// Traffic: the minimum (inputs read once, output written once); broadcast reads hit the cache.
#include "common/binary_elemwise.h"

// out = a + b, with numpy broadcasting.
struct AddOp {
  template <typename T>
  T operator()(T x, T y) const { return x + y; }
};

METALLIC_BINARY_KERNELS(elemwise_add, AddOp)
