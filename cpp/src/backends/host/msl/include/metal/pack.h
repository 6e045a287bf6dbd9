// Emulated MSL metal_pack: pack/unpack between float/half vectors and normalized integers.
#pragma once

#include "metal/vector.h"

namespace metal {
namespace pdetail {
inline float clampf(float x, float lo, float hi) {
  return x < lo ? lo : (x > hi ? hi : (x == x ? x : 0.0f));
}
inline uint unorm(float x, float scale) {
  return uint(__builtin_rintf(clampf(x, 0.0f, 1.0f) * scale));
}
inline int snorm(float x, float scale) {
  return int(__builtin_rintf(clampf(x, -1.0f, 1.0f) * scale));
}
template <class V>
inline float f(const V& v, int i) {
  return float(v.elems[i]);
}
}  // namespace pdetail

template <class V>
inline uint pack_float_to_unorm4x8(const V& v) {
  return pdetail::unorm(pdetail::f(v, 0), 255.0f) | pdetail::unorm(pdetail::f(v, 1), 255.0f) << 8 |
         pdetail::unorm(pdetail::f(v, 2), 255.0f) << 16 |
         pdetail::unorm(pdetail::f(v, 3), 255.0f) << 24;
}
template <class V>
inline uint pack_float_to_snorm4x8(const V& v) {
  uint r = 0;
  for (int i = 0; i < 4; ++i)
    r |= (uint(pdetail::snorm(pdetail::f(v, i), 127.0f)) & 0xffu) << (8 * i);
  return r;
}
template <class V>
inline uint pack_float_to_unorm2x16(const V& v) {
  return pdetail::unorm(pdetail::f(v, 0), 65535.0f) | pdetail::unorm(pdetail::f(v, 1), 65535.0f)
                                                          << 16;
}
template <class V>
inline uint pack_float_to_snorm2x16(const V& v) {
  return (uint(pdetail::snorm(pdetail::f(v, 0), 32767.0f)) & 0xffffu) |
         (uint(pdetail::snorm(pdetail::f(v, 1), 32767.0f)) & 0xffffu) << 16;
}
template <class V>
inline uint pack_half_to_unorm4x8(const V& v) {
  return pack_float_to_unorm4x8(v);
}
template <class V>
inline uint pack_half_to_snorm4x8(const V& v) {
  return pack_float_to_snorm4x8(v);
}
template <class V>
inline uint pack_half_to_unorm2x16(const V& v) {
  return pack_float_to_unorm2x16(v);
}
template <class V>
inline uint pack_half_to_snorm2x16(const V& v) {
  return pack_float_to_snorm2x16(v);
}

inline float4 unpack_unorm4x8_to_float(uint x) {
  return float4(float(x & 0xffu), float((x >> 8) & 0xffu), float((x >> 16) & 0xffu),
                float(x >> 24)) /
         255.0f;
}
inline float4 unpack_snorm4x8_to_float(uint x) {
  float4 r;
  for (int i = 0; i < 4; ++i) {
    const float v = float(int8_t(uint8_t(x >> (8 * i)))) / 127.0f;
    r.elems[i] = v < -1.0f ? -1.0f : v;
  }
  return r;
}
inline float2 unpack_unorm2x16_to_float(uint x) {
  return float2(float(x & 0xffffu), float(x >> 16)) / 65535.0f;
}
inline float2 unpack_snorm2x16_to_float(uint x) {
  float2 r;
  for (int i = 0; i < 2; ++i) {
    const float v = float(int16_t(uint16_t(x >> (16 * i)))) / 32767.0f;
    r.elems[i] = v < -1.0f ? -1.0f : v;
  }
  return r;
}
inline half4 unpack_unorm4x8_to_half(uint x) {
  return half4(unpack_unorm4x8_to_float(x));
}
inline half4 unpack_snorm4x8_to_half(uint x) {
  return half4(unpack_snorm4x8_to_float(x));
}
inline half2 unpack_unorm2x16_to_half(uint x) {
  return half2(unpack_unorm2x16_to_float(x));
}
inline half2 unpack_snorm2x16_to_half(uint x) {
  return half2(unpack_snorm2x16_to_float(x));
}

}  // namespace metal
