// Threading: one thread per (rotation pair or pass-through element, token, batch entry), looping
// over the heads so each cos/sin is computed once per token; scalar accesses, coalesced across a
// SIMD group (a NeoX pair spans both halves of the head). Traffic: x read once, out written once.
#include <metal_stdlib>
#include "rope/params.h"
using namespace metal;

// Rotates pairs (x_a, x_b) by angle pos * theta^(-2i / rotary_dim): NeoX pairs dims (i, i + r/2)
// (Hugging Face Llama/Qwen2), GPT-J pairs (2i, 2i + 1). inv_freq and the angle are computed in
// float as Hugging Face does (1 / theta^(2i/r), then pos * inv_freq).
template <typename T, bool kGptj>
kernel void rope(device const T* x [[buffer(0)]], device const int* positions [[buffer(1)]],
                 device T* out [[buffer(2)]], constant RopeParams& p [[buffer(3)]],
                 uint3 gid [[thread_position_in_grid]]) {
  const uint j = gid.x, s = gid.y, b = gid.z;
  const uint half_rot = p.rotary_dim / 2;
  if (j >= half_rot + (p.head_dim - p.rotary_dim) || s >= p.seq) {
    return;
  }
  const ulong token = ulong(b) * p.batch_stride + ulong(s) * p.seq_stride;
  if (j >= half_rot) {  // a pass-through dim: copy it for every head
    const uint d = p.rotary_dim + (j - half_rot);
    for (uint h = 0; h < p.heads; h++) {
      const ulong e = token + ulong(h) * p.head_stride + d;
      out[e] = x[e];
    }
    return;
  }
  const int pos = p.has_positions != 0 ? positions[b * p.positions_batch_stride + s]
                                        : p.offset + int(s);
  const float inv_freq = 1.0f / precise::pow(p.theta, float(2 * j) / float(p.rotary_dim));
  const float angle = float(pos) * inv_freq;
  const float c = precise::cos(angle), sn = precise::sin(angle);
  const uint da = kGptj ? 2 * j : j;
  const uint db = kGptj ? 2 * j + 1 : j + half_rot;
  for (uint h = 0; h < p.heads; h++) {
    const ulong e = token + ulong(h) * p.head_stride;
    const float xa = float(x[e + da]), xb = float(x[e + db]);
    out[e + da] = T(xa * c - xb * sn);
    out[e + db] = T(xb * c + xa * sn);
  }
}

#define METALLIC_ROPE_KERNELS(T, tname)                                                        \
  template [[host_name("rope_neox_" tname)]] [[kernel]] decltype(rope<T, false>) rope<T, false>; \
  template [[host_name("rope_gptj_" tname)]] [[kernel]] decltype(rope<T, true>) rope<T, true>;

METALLIC_ROPE_KERNELS(float, "f32")
METALLIC_ROPE_KERNELS(half, "f16")
METALLIC_ROPE_KERNELS(bfloat, "bf16")
