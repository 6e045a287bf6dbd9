// Shared by the elemwise_{add,sub,mul,div} libraries: one template per indexing form, each
// instantiated per element type with a [[host_name]] that says op, form and type.
#pragma once

#include <metal_stdlib>
#include "common/binary_elemwise_params.h"
using namespace metal;

// out[i] = op(a[i], b[i])
template <typename T, typename Op>
inline void binary_vv(device const T* a, device const T* b, device T* out,
                      constant BinaryElemwiseParams& p, uint i) {
  if (i >= p.n) {
    return;
  }
  out[i] = Op()(a[i], b[i]);
}

// out[i] = op(a[i], b[i % b_n]): b broadcast over a's leading dimensions.
template <typename T, typename Op>
inline void binary_vb(device const T* a, device const T* b, device T* out,
                      constant BinaryElemwiseParams& p, uint i) {
  if (i >= p.n) {
    return;
  }
  out[i] = Op()(a[i], b[i % p.b_n]);
}

// Defines kernels <name>_vv_<type> and <name>_vb_<type> for f32, f16 and bf16 with functor Op.
#define METALLIC_BINARY_KERNELS(name, Op)                                                    \
  template <typename T>                                                                    \
  [[kernel]] void name##_vv(device const T* a [[buffer(0)]], device const T* b [[buffer(1)]], \
                            device T* out [[buffer(2)]],                                   \
                            constant BinaryElemwiseParams& p [[buffer(3)]],                \
                            uint i [[thread_position_in_grid]]) {                          \
    binary_vv<T, Op>(a, b, out, p, i);                                                     \
  }                                                                                        \
  template <typename T>                                                                    \
  [[kernel]] void name##_vb(device const T* a [[buffer(0)]], device const T* b [[buffer(1)]], \
                            device T* out [[buffer(2)]],                                   \
                            constant BinaryElemwiseParams& p [[buffer(3)]],                \
                            uint i [[thread_position_in_grid]]) {                          \
    binary_vb<T, Op>(a, b, out, p, i);                                                     \
  }                                                                                        \
  template [[host_name(#name "_vv_f32")]] [[kernel]] decltype(name##_vv<float>) name##_vv<float>; \
  template [[host_name(#name "_vv_f16")]] [[kernel]] decltype(name##_vv<half>) name##_vv<half>;   \
  template [[host_name(#name "_vb_f32")]] [[kernel]] decltype(name##_vb<float>) name##_vb<float>; \
  template [[host_name(#name "_vb_f16")]] [[kernel]] decltype(name##_vb<half>) name##_vb<half>;   \
  template [[host_name(#name "_vv_bf16")]] [[kernel]] decltype(name##_vv<bfloat>)                \
      name##_vv<bfloat>;                                                                       \
  template [[host_name(#name "_vb_bf16")]] [[kernel]] decltype(name##_vb<bfloat>)                \
      name##_vb<bfloat>;
