// Threads: one per 4-element run of a row of the broadcast output (x and y may be scalars).
// Traffic: the minimum (mask, x and y read once, output written once); broadcasts hit cache.
#include "common/broadcast_params.h"
#include "common/strided.h"

// out = mask != 0 ? x : y, numpy-broadcast over the three operands.
template <typename T>
inline void where_run(device const uchar* mask, device const T* x, T x_value, bool x_scalar,
                      device const T* y, T y_value, bool y_scalar, device T* out,
                      constant BroadcastParams& p, uint2 pos) {
  const uint start = pos.x * METALLIC_BROADCAST_RUN;
  if (start >= p.inner) {
    return;
  }
  const uint end = min(start + METALLIC_BROADCAST_RUN, p.inner);
  const uint3 off = uint3(p.a_base, p.b_base, p.c_base) +
                    strided_offsets3(pos.y, p.ndim - 1, p.shape, p.a_strides, p.b_strides,
                                     p.c_strides);
  const uint last = p.ndim - 1;
  device T* row = out + pos.y * p.inner;
  for (uint c = start; c < end; ++c) {
    const T xv = x_scalar ? x_value : x[off.y + c * p.b_strides[last]];
    const T yv = y_scalar ? y_value : y[off.z + c * p.c_strides[last]];
    row[c] = mask[off.x + c * p.a_strides[last]] != 0 ? xv : yv;
  }
}

// g: x and y tensors; gs: y a scalar; sg: x a scalar (the scalar is a value in constant memory).
template <typename T>
[[kernel]] void where_g(device const uchar* mask [[buffer(0)]], device const T* x [[buffer(1)]],
                        device const T* y [[buffer(2)]], device T* out [[buffer(3)]],
                        constant BroadcastParams& p [[buffer(4)]],
                        uint2 pos [[thread_position_in_grid]]) {
  where_run<T>(mask, x, T(0), false, y, T(0), false, out, p, pos);
}
template <typename T>
[[kernel]] void where_gs(device const uchar* mask [[buffer(0)]], device const T* x [[buffer(1)]],
                         constant T& y [[buffer(2)]], device T* out [[buffer(3)]],
                         constant BroadcastParams& p [[buffer(4)]],
                         uint2 pos [[thread_position_in_grid]]) {
  where_run<T>(mask, x, T(0), false, x, y, true, out, p, pos);
}
template <typename T>
[[kernel]] void where_sg(device const uchar* mask [[buffer(0)]], constant T& x [[buffer(1)]],
                         device const T* y [[buffer(2)]], device T* out [[buffer(3)]],
                         constant BroadcastParams& p [[buffer(4)]],
                         uint2 pos [[thread_position_in_grid]]) {
  where_run<T>(mask, y, x, true, y, T(0), false, out, p, pos);
}

#define METALLIC_WHERE_INSTANCE(T, tname)                                                    \
  template [[host_name("where_g_" #tname)]] [[kernel]] decltype(where_g<T>) where_g<T>;    \
  template [[host_name("where_gs_" #tname)]] [[kernel]] decltype(where_gs<T>) where_gs<T>; \
  template [[host_name("where_sg_" #tname)]] [[kernel]] decltype(where_sg<T>) where_sg<T>;

METALLIC_WHERE_INSTANCE(float, f32)
METALLIC_WHERE_INSTANCE(half, f16)
METALLIC_WHERE_INSTANCE(bfloat, bf16)
METALLIC_WHERE_INSTANCE(int, i32)
METALLIC_WHERE_INSTANCE(uint, u32)
METALLIC_WHERE_INSTANCE(uchar, u8)
