// Threads: one per element (v: contiguous input) or per 4-element run of a row (g: strided input).
// Traffic: the minimum (each input element read once, each output written once).
#include "common/broadcast_params.h"
#include "common/strided.h"

// v: x contiguous: out[i] = f(x[i]), computed in float and rounded once to T.
template <typename T, typename F>
inline void unary_v(device const T* x, device T* out, constant BroadcastParams& p, uint i) {
  if (i >= p.n) {
    return;
  }
  out[i] = T(F()(float(x[i])));
}

// g: x any strided view (its strides in a_strides), out contiguous.
template <typename T, typename F>
inline void unary_g(device const T* x, device T* out, constant BroadcastParams& p, uint2 pos) {
  const uint start = pos.x * METALLIC_BROADCAST_RUN;
  if (start >= p.inner) {
    return;
  }
  const uint end = min(start + METALLIC_BROADCAST_RUN, p.inner);
  const uint off = p.a_base + strided_offset(pos.y, p.ndim - 1, p.shape, p.a_strides);
  const uint sx = p.a_strides[p.ndim - 1];
  device T* row = out + pos.y * p.inner;
  for (uint c = start; c < end; ++c) {
    row[c] = T(F()(float(x[off + c * sx])));
  }
}

// Defines unary_<name>_{v,g}_{f32,f16,bf16} computing `expr` of float x.
#define METALLIC_UNARY(name, expr)                                                            \
  struct name##_fn {                                                                          \
    float operator()(float x) const { return expr; }                                          \
  };                                                                                          \
  template <typename T>                                                                       \
  [[kernel]] void unary_##name##_v(device const T* x [[buffer(0)]], device T* out [[buffer(1)]], \
                                   constant BroadcastParams& p [[buffer(2)]],                 \
                                   uint i [[thread_position_in_grid]]) {                      \
    unary_v<T, name##_fn>(x, out, p, i);                                                      \
  }                                                                                           \
  template <typename T>                                                                       \
  [[kernel]] void unary_##name##_g(device const T* x [[buffer(0)]], device T* out [[buffer(1)]], \
                                   constant BroadcastParams& p [[buffer(2)]],                 \
                                   uint2 pos [[thread_position_in_grid]]) {                   \
    unary_g<T, name##_fn>(x, out, p, pos);                                                    \
  }                                                                                           \
  template [[host_name("unary_" #name "_v_f32")]] [[kernel]] decltype(unary_##name##_v<float>) \
      unary_##name##_v<float>;                                                                \
  template [[host_name("unary_" #name "_v_f16")]] [[kernel]] decltype(unary_##name##_v<half>) \
      unary_##name##_v<half>;                                                                 \
  template [[host_name("unary_" #name "_v_bf16")]] [[kernel]] decltype(                       \
      unary_##name##_v<bfloat>) unary_##name##_v<bfloat>;                                     \
  template [[host_name("unary_" #name "_g_f32")]] [[kernel]] decltype(unary_##name##_g<float>) \
      unary_##name##_g<float>;                                                                \
  template [[host_name("unary_" #name "_g_f16")]] [[kernel]] decltype(unary_##name##_g<half>) \
      unary_##name##_g<half>;                                                                 \
  template [[host_name("unary_" #name "_g_bf16")]] [[kernel]] decltype(                       \
      unary_##name##_g<bfloat>) unary_##name##_g<bfloat>;

METALLIC_UNARY(neg, -x)
METALLIC_UNARY(abs, abs(x))
METALLIC_UNARY(exp, exp(x))
METALLIC_UNARY(log, log(x))
METALLIC_UNARY(sqrt, sqrt(x))
METALLIC_UNARY(rsqrt, rsqrt(x))
METALLIC_UNARY(tanh, tanh(x))
METALLIC_UNARY(sigmoid, 1.0f / (1.0f + exp(-x)))
METALLIC_UNARY(sin, sin(x))
METALLIC_UNARY(cos, cos(x))
METALLIC_UNARY(square, x * x)
