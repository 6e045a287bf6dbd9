// Shared by the binary elementwise libraries (elemwise_<op>, compare): one template per indexing
// form, instantiated per element type with a [[host_name]] that says op, form and type.
#pragma once

#include <metal_stdlib>
#include "common/broadcast_params.h"
#include "common/strided.h"
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

// An operand of the strided kernels: a tensor read at base + c * step along an output row, or
// one value (a scalar operand, in constant memory).
template <typename T>
struct StridedOperand {
  device const T* data;
  uint base, step;
  T at(uint c) const { return data[base + c * step]; }
};
template <typename T>
struct ValueOperand {
  T value;
  T at(uint) const { return value; }
};

// g forms: numpy broadcasting over any strides; thread (x, row) writes a run of
// METALLIC_BROADCAST_RUN elements of output row `row`.
template <typename R, typename Op, typename A, typename B>
inline void binary_run(A a, B b, device R* out, constant BroadcastParams& p, uint2 pos) {
  const uint start = pos.x * METALLIC_BROADCAST_RUN;
  if (start >= p.inner) {
    return;
  }
  const uint end = min(start + METALLIC_BROADCAST_RUN, p.inner);
  device R* row = out + pos.y * p.inner;
  for (uint c = start; c < end; ++c) {
    row[c] = Op()(a.at(c), b.at(c));
  }
}

// Operand k (0: a, 1: b) of output row `row` as a StridedOperand.
template <typename T>
inline StridedOperand<T> strided_operand(device const T* data, constant BroadcastParams& p,
                                         uint row, uint k) {
  const uint2 off = uint2(p.a_base, p.b_base) +
                    strided_offsets2(row, p.ndim - 1, p.shape, p.a_strides, p.b_strides);
  const uint last = p.ndim - 1;
  return StridedOperand<T>{data, k == 0 ? off.x : off.y,
                           k == 0 ? p.a_strides[last] : p.b_strides[last]};
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
    binary_run<R, Op>(strided_operand(a, p, pos.y, 0), strided_operand(b, p, pos.y, 1), out, p, \
                      pos);                                                                      \
  }                                                                                              \
  template <typename T, typename R>                                                              \
  [[kernel]] void name##_gs(device const T* a [[buffer(0)]], constant T& b [[buffer(1)]],        \
                            device R* out [[buffer(2)]],                                         \
                            constant BroadcastParams& p [[buffer(3)]],                           \
                            uint2 pos [[thread_position_in_grid]]) {                             \
    binary_run<R, Op>(strided_operand(a, p, pos.y, 0), ValueOperand<T>{b}, out, p, pos);          \
  }                                                                                              \
  template <typename T, typename R>                                                              \
  [[kernel]] void name##_sg(constant T& a [[buffer(0)]], device const T* b [[buffer(1)]],        \
                            device R* out [[buffer(2)]],                                         \
                            constant BroadcastParams& p [[buffer(3)]],                           \
                            uint2 pos [[thread_position_in_grid]]) {                             \
    binary_run<R, Op>(ValueOperand<T>{a}, strided_operand(b, p, pos.y, 1), out, p, pos);          \
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
