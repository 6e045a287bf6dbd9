// quantize: float rows -> GGUF Q8_0 / Q4_0 blocks of 32, rounding as ggml's reference
// quantize_row_q8_0 / quantize_row_q4_0. Threading: one thread per block, no collectives.
// Traffic: each input element read once, each block (34 or 18 bytes) written once: the minimum.
#include "common/gguf_blocks.h"

// Q8_0: d = max|x| / 127, q = round(x / d) (halves away from zero).
template <typename T>
[[kernel]] void quantize_q8_0(device const T* x [[buffer(0)]], device BlockQ8_0* out [[buffer(1)]],
                              constant uint& blocks [[buffer(2)]],
                              uint i [[thread_position_in_grid]]) {
  if (i >= blocks) {
    return;
  }
  device const T* v = x + i * 32;
  float amax = 0.0f;
  for (uint j = 0; j < 32; ++j) {
    amax = max(amax, abs(float(v[j])));
  }
  const float d = amax / 127.0f;
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  out[i].d = half(d);
  for (uint j = 0; j < 32; ++j) {
    out[i].qs[j] = char(round(float(v[j]) * id));
  }
}

// Q4_0: d = (the element of largest magnitude, with its sign) / -8, q = min(15, trunc(x / d + 8.5));
// elements j and j + 16 share byte j (low and high nibble).
template <typename T>
[[kernel]] void quantize_q4_0(device const T* x [[buffer(0)]], device BlockQ4_0* out [[buffer(1)]],
                              constant uint& blocks [[buffer(2)]],
                              uint i [[thread_position_in_grid]]) {
  if (i >= blocks) {
    return;
  }
  device const T* v = x + i * 32;
  float amax = 0.0f, extreme = 0.0f;
  for (uint j = 0; j < 32; ++j) {
    const float f = float(v[j]);
    if (amax < abs(f)) {
      amax = abs(f);
      extreme = f;
    }
  }
  const float d = extreme / -8.0f;
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  out[i].d = half(d);
  for (uint j = 0; j < 16; ++j) {
    const uint lo = min(15, int(float(v[j]) * id + 8.5f));
    const uint hi = min(15, int(float(v[j + 16]) * id + 8.5f));
    out[i].qs[j] = uchar(lo | (hi << 4));
  }
}

#define METALLIC_QUANTIZE_KERNELS(T, dtype)                                                 \
  template [[host_name("quantize_q8_0_" #dtype)]] [[kernel]] decltype(quantize_q8_0<T>)    \
      quantize_q8_0<T>;                                                                    \
  template [[host_name("quantize_q4_0_" #dtype)]] [[kernel]] decltype(quantize_q4_0<T>)    \
      quantize_q4_0<T>;

METALLIC_QUANTIZE_KERNELS(float, f32)
METALLIC_QUANTIZE_KERNELS(half, f16)
METALLIC_QUANTIZE_KERNELS(bfloat, bf16)
