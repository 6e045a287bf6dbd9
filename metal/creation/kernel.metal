// Threading: fill_v and the random kernels: one thread per 4 contiguous outputs (one Philox block for random); fill_g and arange: one thread per element.
// Traffic: each output is written once and nothing is read (the minimum); fill_g's strided writes are not coalesced.
#include <metal_stdlib>
#include "common/strided.h"
#include "creation/params.h"
#include "common/philox.h"
using namespace metal;

// out[i] = value for a contiguous, 4-element aligned out.
template <typename T>
[[kernel]] void fill_v(device T* out [[buffer(0)]], constant T& value [[buffer(1)]],
                       constant FillParams& p [[buffer(2)]], uint i [[thread_position_in_grid]]) {
  const uint base = i * 4;
  if (base + 4 <= p.n) {
    *((device vec<T, 4>*)(out + base)) = vec<T, 4>(value);
  } else {
    for (uint k = base; k < p.n; ++k) {
      out[k] = value;
    }
  }
}

// out[view] = value for a strided view.
template <typename T>
[[kernel]] void fill_g(device T* out [[buffer(0)]], constant T& value [[buffer(1)]],
                       constant FillParams& p [[buffer(2)]], uint i [[thread_position_in_grid]]) {
  if (i >= p.n) {
    return;
  }
  out[p.base + strided_offset(i, p.ndim, p.shape, p.strides)] = value;
}

template <typename T>
[[kernel]] void arange_float(device T* out [[buffer(0)]], constant ArangeParams& p [[buffer(1)]],
                             uint i [[thread_position_in_grid]]) {
  if (i < p.n) {
    out[i] = T(fma(float(i), p.step, p.start));
  }
}

template <typename T>
[[kernel]] void arange_int(device T* out [[buffer(0)]], constant ArangeParams& p [[buffer(1)]],
                           uint i [[thread_position_in_grid]]) {
  if (i < p.n) {
    out[i] = T(p.istart + i * p.istep);
  }
}

// Writes the 4 values of block `block` (elements 4 * block ...), as many as fit below n.
template <typename T>
inline void store_block(device T* out, uint n, uint block, float4 v) {
  const uint base = block * 4;
  for (uint k = 0; k < 4 && base + k < n; ++k) {
    out[base + k] = T(v[k]);
  }
}

// Raw Philox4x32-10 output: element i is word i % 4 of the block for counter (i / 4, 0, 0, 0).
[[kernel]] void random_bits_u32(device uint* out [[buffer(0)]],
                                constant RandomParams& p [[buffer(1)]],
                                uint block [[thread_position_in_grid]]) {
  const uint4 bits = philox4x32_10(uint4(block, 0, 0, 0), uint2(p.key0, p.key1));
  const uint base = block * 4;
  for (uint k = 0; k < 4 && base + k < p.n; ++k) {
    out[base + k] = bits[k];
  }
}

// shift + scale * u, u uniform in [0, 1) from the same bits as random_bits.
template <typename T>
[[kernel]] void random_uniform(device T* out [[buffer(0)]], constant RandomParams& p [[buffer(1)]],
                               uint block [[thread_position_in_grid]]) {
  const uint4 bits = philox4x32_10(uint4(block, 0, 0, 0), uint2(p.key0, p.key1));
  float4 v;
  for (uint k = 0; k < 4; ++k) {
    v[k] = fma(philox_unit(bits[k]), p.scale, p.shift);
  }
  store_block(out, p.n, block, v);
}

// shift + scale * z, z standard normal by Box-Muller on word pairs (0, 1) and (2, 3).
template <typename T>
[[kernel]] void random_normal(device T* out [[buffer(0)]], constant RandomParams& p [[buffer(1)]],
                              uint block [[thread_position_in_grid]]) {
  const uint4 bits = philox4x32_10(uint4(block, 0, 0, 0), uint2(p.key0, p.key1));
  float4 v;
  for (uint k = 0; k < 4; k += 2) {
    const float u1 = philox_unit(bits[k]) + 5.9604644775390625e-8f;  // (0, 1]: log is finite
    const float theta = 6.2831853071795864f * philox_unit(bits[k + 1]);
    const float r = precise::sqrt(-2.0f * precise::log(u1));
    v[k] = fma(r * precise::cos(theta), p.scale, p.shift);
    v[k + 1] = fma(r * precise::sin(theta), p.scale, p.shift);
  }
  store_block(out, p.n, block, v);
}

#define METALLIC_FILL(name, T)                                                                   \
  template [[host_name("fill_v_" #name)]] [[kernel]] decltype(fill_v<T>) fill_v<T>;             \
  template [[host_name("fill_g_" #name)]] [[kernel]] decltype(fill_g<T>) fill_g<T>;
METALLIC_FILL(f32, float)
METALLIC_FILL(f16, half)
METALLIC_FILL(bf16, bfloat)
METALLIC_FILL(i32, int)
METALLIC_FILL(u32, uint)
METALLIC_FILL(i8, char)
METALLIC_FILL(u8, uchar)

template [[host_name("arange_f32")]] [[kernel]] decltype(arange_float<float>) arange_float<float>;
template [[host_name("arange_f16")]] [[kernel]] decltype(arange_float<half>) arange_float<half>;
template [[host_name("arange_bf16")]] [[kernel]] decltype(arange_float<bfloat>) arange_float<bfloat>;
template [[host_name("arange_i32")]] [[kernel]] decltype(arange_int<int>) arange_int<int>;
template [[host_name("arange_u32")]] [[kernel]] decltype(arange_int<uint>) arange_int<uint>;
template [[host_name("arange_i8")]] [[kernel]] decltype(arange_int<char>) arange_int<char>;
template [[host_name("arange_u8")]] [[kernel]] decltype(arange_int<uchar>) arange_int<uchar>;

#define METALLIC_RANDOM(name, T)                                                                \
  template [[host_name("random_uniform_" #name)]] [[kernel]] decltype(random_uniform<T>)        \
      random_uniform<T>;                                                                        \
  template [[host_name("random_normal_" #name)]] [[kernel]] decltype(random_normal<T>)          \
      random_normal<T>;
METALLIC_RANDOM(f32, float)
METALLIC_RANDOM(f16, half)
METALLIC_RANDOM(bf16, bfloat)
