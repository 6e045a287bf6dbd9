// Shared by the binary elementwise libraries (elemwise_<op>, compare): one template per indexing
// form, instantiated per element type with a [[host_name]] that says op, form and type.
#pragma once

#include <metal_stdlib>
#include "common/broadcast.h"
using namespace metal;

// vv: a, b and out contiguous with the same shape: out[i] = op(a[i], b[i]).
template <typename T, typename R, typename Op>
inline void binary_vv(device const T* a, device const T* b, device R* out,
                      constant BroadcastParams& p, uint i) {
  if (i >= p.n) {
    return;
  }
  out[i] = Op()(a[i], b[i]);
}

// g: numpy broadcasting over any strides; thread (x, row) writes a run of METALLIC_BROADCAST_RUN
// elements of output row `row`. A scalar operand (gs: b, sg: a) is a value in constant memory.
template <typename T, typename R, typename Op>
inline void binary_g(device const T* a, device const T* b, device R* out,
                     constant BroadcastParams& p, uint2 pos) {
  const uint start = pos.x * METALLIC_BROADCAST_RUN;
  if (start >= p.inner) {
    return;
  }
  const uint end = min(start + METALLIC_BROADCAST_RUN, p.inner);
  const uint2 off = row_offsets2(p, pos.y);
  const uint sa = p.a_strides[p.ndim - 1], sb = p.b_strides[p.ndim - 1];
  device R* row = out + pos.y * p.inner;
  for (uint c = start; c < end; ++c) {
    row[c] = Op()(a[off.x + c * sa], b[off.y + c * sb]);
  }
}

template <typename T, typename R, typename Op>
inline void binary_gs(device const T* a, T b, device R* out, constant BroadcastParams& p,
                      uint2 pos) {
  const uint start = pos.x * METALLIC_BROADCAST_RUN;
  if (start >= p.inner) {
    return;
  }
  const uint end = min(start + METALLIC_BROADCAST_RUN, p.inner);
  const uint a_off = row_offsets2(p, pos.y).x, sa = p.a_strides[p.ndim - 1];
  device R* row = out + pos.y * p.inner;
  for (uint c = start; c < end; ++c) {
    row[c] = Op()(a[a_off + c * sa], b);
  }
}

template <typename T, typename R, typename Op>
inline void binary_sg(T a, device const T* b, device R* out, constant BroadcastParams& p,
                      uint2 pos) {
  const uint start = pos.x * METALLIC_BROADCAST_RUN;
  if (start >= p.inner) {
    return;
  }
  const uint end = min(start + METALLIC_BROADCAST_RUN, p.inner);
  const uint b_off = row_offsets2(p, pos.y).y, sb = p.b_strides[p.ndim - 1];
  device R* row = out + pos.y * p.inner;
  for (uint c = start; c < end; ++c) {
    row[c] = Op()(a, b[b_off + c * sb]);
  }
}

// Defines the kernel templates <name>_{vv,g,gs,sg}<T, R> (R: the output element type).
#define METALLIC_BINARY_DEFINE(name, Op)                                                         \
  template <typename T, typename R>                                                              \
  [[kernel]] void name##_vv(device const T* a [[buffer(0)]], device const T* b [[buffer(1)]],    \
                            device R* out [[buffer(2)]],                                         \
                            constant BroadcastParams& p [[buffer(3)]],                           \
                            uint i [[thread_position_in_grid]]) {                                \
    binary_vv<T, R, Op>(a, b, out, p, i);                                                        \
  }                                                                                              \
  template <typename T, typename R>                                                              \
  [[kernel]] void name##_g(device const T* a [[buffer(0)]], device const T* b [[buffer(1)]],     \
                           device R* out [[buffer(2)]], constant BroadcastParams& p [[buffer(3)]], \
                           uint2 pos [[thread_position_in_grid]]) {                              \
    binary_g<T, R, Op>(a, b, out, p, pos);                                                       \
  }                                                                                              \
  template <typename T, typename R>                                                              \
  [[kernel]] void name##_gs(device const T* a [[buffer(0)]], constant T& b [[buffer(1)]],        \
                            device R* out [[buffer(2)]],                                         \
                            constant BroadcastParams& p [[buffer(3)]],                           \
                            uint2 pos [[thread_position_in_grid]]) {                             \
    binary_gs<T, R, Op>(a, b, out, p, pos);                                                      \
  }                                                                                              \
  template <typename T, typename R>                                                              \
  [[kernel]] void name##_sg(constant T& a [[buffer(0)]], device const T* b [[buffer(1)]],        \
                            device R* out [[buffer(2)]],                                         \
                            constant BroadcastParams& p [[buffer(3)]],                           \
                            uint2 pos [[thread_position_in_grid]]) {                             \
    binary_sg<T, R, Op>(a, b, out, p, pos);                                                      \
  }

// Instantiates the four forms of <name> for element type T (dtype name tname), output type R.
#define METALLIC_BINARY_INSTANCE(name, T, R, tname)                                            \
  template [[host_name(#name "_vv_" #tname)]] [[kernel]] decltype(name##_vv<T, R>)            \
      name##_vv<T, R>;                                                                         \
  template [[host_name(#name "_g_" #tname)]] [[kernel]] decltype(name##_g<T, R>) name##_g<T, R>; \
  template [[host_name(#name "_gs_" #tname)]] [[kernel]] decltype(name##_gs<T, R>)            \
      name##_gs<T, R>;                                                                         \
  template [[host_name(#name "_sg_" #tname)]] [[kernel]] decltype(name##_sg<T, R>)            \
      name##_sg<T, R>;

// <name> for f32, f16 and bf16, with the operand type as output type.
#define METALLIC_BINARY_FLOAT_KERNELS(name, Op)         \
  METALLIC_BINARY_DEFINE(name, Op)                      \
  METALLIC_BINARY_INSTANCE(name, float, float, f32)     \
  METALLIC_BINARY_INSTANCE(name, half, half, f16)       \
  METALLIC_BINARY_INSTANCE(name, bfloat, bfloat, bf16)

// <name> for f32, f16, bf16, i32 and u32, with the operand type as output type.
#define METALLIC_BINARY_KERNELS(name, Op)       \
  METALLIC_BINARY_FLOAT_KERNELS(name, Op)       \
  METALLIC_BINARY_INSTANCE(name, int, int, i32) \
  METALLIC_BINARY_INSTANCE(name, uint, uint, u32)
