// Threading: vec: a SIMD group per row (4 per threadgroup), the row in registers (n <= 1024);
// block: a threadgroup of 32..1024 threads per row, an online max/sum pass then a normalising
// pass; row (host device only): a thread per row, no collectives. On the host device vec and
// block take several rows per group in turn.
// Traffic: vec reads x (and mask) once and writes out once (the minimum); block reads them twice,
// row twice and out twice more (the later passes from cache for rows that fit in it).
#include <metal_stdlib>
#include "common/threadgroup_reduce.h"
#include "common/vec4_io.h"
#include "softmax/params.h"
using namespace metal;

constant uint kVecChunks = 8;  // float4s per lane in the vec kernel: rows up to 32 * 4 * 8 = 1024

// What the score loops of one row need, computed once per row: its x and mask rows and the
// number of visible keys (k < n, and with causal k <= q + n - lq).
template <typename T>
struct ScoreRow {
  device const T* x;
  device const T* mask;  // unused without a mask
  uint visible;
};

template <typename T>
inline ScoreRow<T> score_row(device const T* x, device const T* mask, constant SoftmaxParams& p,
                             uint row) {
  ScoreRow<T> r;
  r.x = x + ulong(row) * p.n;
  r.mask = mask;
  if (p.has_mask != 0) {
    const uint i2 = row % p.lead[2], i1 = (row / p.lead[2]) % p.lead[1];
    const uint i0 = row / (p.lead[2] * p.lead[1]);
    const ulong mask_row =
        ulong(i0) * p.mask_stride[0] + ulong(i1) * p.mask_stride[1] + ulong(i2) * p.mask_stride[2];
    r.mask = mask + mask_row * p.n;
  }
  const long visible = long(row % p.lq) + 1 + long(p.n) - long(p.lq);
  r.visible = p.causal == 0 ? p.n : uint(clamp(visible, 0L, long(p.n)));
  return r;
}

// Scores [i, i + 4) of a row: x * scale + mask, -inf where hidden or past the row's end.
template <typename T>
inline float4 scores4(ScoreRow<T> r, constant SoftmaxParams& p, uint i) {
  const bool whole = p.vec4 != 0 && i + 4 <= p.n;
  float4 s = load4(r.x, i, p.n, whole) * p.scale;
  if (p.has_mask != 0) {
    s += load4(r.mask, i, p.n, whole);
  }
  if (i + 4 > r.visible) {
    for (uint k = 0; k < 4; k++) {
      if (i + k >= r.visible) {
        s[k] = -INFINITY;
      }
    }
  }
  return s;
}

// exp(s - m) / sum written to out[i, i + 4); a row with nothing visible (m = -inf) becomes 0.
template <typename T>
inline void store_probs(device T* out_row, constant SoftmaxParams& p, uint i, float4 s, float m,
                        float inv_sum) {
  const float4 e = m == -INFINITY ? float4(0.0f) : precise::exp(s - m) * inv_sum;
  store4(out_row, i, p.n, p.vec4 != 0 && i + 4 <= p.n, e);
}

template <typename T>
inline void softmax_vec_row(device const T* x, device const T* mask, device T* out,
                            constant SoftmaxParams& p, uint row, uint lane) {
  const uint chunks = (p.n + 127) / 128;
  const ScoreRow<T> r = score_row(x, mask, p, row);
  float4 s[kVecChunks];
  float m = -INFINITY;
  for (uint c = 0; c < kVecChunks; c++) {
    if (c < chunks) {
      s[c] = scores4(r, p, (c * 32 + lane) * 4);
      m = max(m, max(max(s[c].x, s[c].y), max(s[c].z, s[c].w)));
    }
  }
  m = simd_max(m);
  float sum = 0.0f;
  for (uint c = 0; c < kVecChunks; c++) {
    if (c < chunks && m != -INFINITY) {
      const float4 e = precise::exp(s[c] - m);
      sum += e.x + e.y + e.z + e.w;
    }
  }
  const float inv_sum = 1.0f / simd_sum(sum);
  for (uint c = 0; c < kVecChunks; c++) {
    if (c < chunks) {
      store_probs(out + ulong(row) * p.n, p, (c * 32 + lane) * 4, s[c], m, inv_sum);
    }
  }
}

template <typename T>
kernel void softmax_vec(device const T* x [[buffer(0)]], device const T* mask [[buffer(1)]],
                        device T* out [[buffer(2)]], constant SoftmaxParams& p [[buffer(3)]],
                        uint group [[threadgroup_position_in_grid]],
                        uint lane [[thread_index_in_simdgroup]],
                        uint simd_group [[simdgroup_index_in_threadgroup]],
                        uint simd_groups [[simdgroups_per_threadgroup]]) {
  for (uint t = 0; t < p.rows_per_group; t++) {
    const uint row = (group * p.rows_per_group + t) * simd_groups + simd_group;
    if (row >= p.rows) {
      return;  // the whole SIMD group: no collective waits for it
    }
    softmax_vec_row(x, mask, out, p, row, lane);
  }
}

// Online max and sum of scores [start, start + 4), [start + step, ...) of one row: when the
// running max grows, the sum so far is rescaled.
template <typename T>
inline float2 online_max_sum(device const T* x, device const T* mask, constant SoftmaxParams& p,
                             uint row, uint start, uint step) {
  const ScoreRow<T> r = score_row(x, mask, p, row);
  float m = -INFINITY, sum = 0.0f;
  for (uint i = start; i < p.n; i += step) {
    const float4 s = scores4(r, p, i);
    const float chunk_max = max(max(s.x, s.y), max(s.z, s.w));
    if (chunk_max == -INFINITY) {
      continue;
    }
    if (chunk_max > m) {
      sum *= precise::exp(m - chunk_max);
      m = chunk_max;
    }
    const float4 e = precise::exp(s - m);
    sum += e.x + e.y + e.z + e.w;
  }
  return float2(m, sum);
}

// The probabilities of the same elements online_max_sum read, given the row's max and 1 / sum.
template <typename T>
inline void store_row_probs(device const T* x, device const T* mask, device T* out,
                            constant SoftmaxParams& p, uint row, uint start, uint step, float m,
                            float inv_sum) {
  const ScoreRow<T> r = score_row(x, mask, p, row);
  for (uint i = start; i < p.n; i += step) {
    store_probs(out + ulong(row) * p.n, p, i, scores4(r, p, i), m, inv_sum);
  }
}

template <typename T>
inline void softmax_block_row(device const T* x, device const T* mask, device T* out,
                              constant SoftmaxParams& p, uint row, uint tid, uint threads,
                              uint lane, uint simd_group, uint simd_groups,
                              threadgroup float* partials_max, threadgroup float* partials_sum) {
  const float2 mine = online_max_sum(x, mask, p, row, tid * 4, threads * 4);
  const float row_max = threadgroup_max(mine.x, partials_max, lane, simd_group, simd_groups);
  const float rescaled = mine.x == -INFINITY ? 0.0f : mine.y * precise::exp(mine.x - row_max);
  const float sum = threadgroup_sum(rescaled, partials_sum, lane, simd_group, simd_groups);
  store_row_probs(x, mask, out, p, row, tid * 4, threads * 4, row_max, 1.0f / sum);
}

template <typename T>
kernel void softmax_block(device const T* x [[buffer(0)]], device const T* mask [[buffer(1)]],
                          device T* out [[buffer(2)]], constant SoftmaxParams& p [[buffer(3)]],
                          uint group [[threadgroup_position_in_grid]],
                          uint tid [[thread_position_in_threadgroup]],
                          uint threads [[threads_per_threadgroup]],
                          uint lane [[thread_index_in_simdgroup]],
                          uint simd_group [[simdgroup_index_in_threadgroup]],
                          uint simd_groups [[simdgroups_per_threadgroup]]) {
  threadgroup float partials_max[32];
  threadgroup float partials_sum[32];
  const uint first = group * p.rows_per_group;
  const uint end = min(p.rows, first + p.rows_per_group);
  for (uint row = first; row < end; row++) {
    softmax_block_row(x, mask, out, p, row, tid, threads, lane, simd_group, simd_groups,
                      partials_max, partials_sum);
    if (simd_groups > 1) {
      threadgroup_barrier(mem_flags::mem_threadgroup);  // partials are reused by the next row
    }
  }
}

// row (the host device's backend): one thread per row, no collectives, so the host runs it as a
// plain loop instead of one fiber per GPU thread (on a GPU its loads would not coalesce). One exp
// per element, the host's main cost: a max pass, a pass storing exp(s - max) and summing it, and
// a pass scaling the stored values by 1 / sum (for f16/bf16 a second rounding, < 1 ulp).
template <typename T>
kernel void softmax_row(device const T* x [[buffer(0)]], device const T* mask [[buffer(1)]],
                        device T* out [[buffer(2)]], constant SoftmaxParams& p [[buffer(3)]],
                        uint row [[thread_position_in_grid]]) {
  if (row >= p.rows) {
    return;
  }
  const ScoreRow<T> r = score_row(x, mask, p, row);
  float m = -INFINITY;
  for (uint i = 0; i < p.n; i += 4) {
    const float4 s = scores4(r, p, i);
    m = max(m, max(max(s.x, s.y), max(s.z, s.w)));
  }
  device T* out_row = out + ulong(row) * p.n;
  float sum = 0.0f;
  for (uint i = 0; i < p.n; i += 4) {
    const float4 s = scores4(r, p, i);
    const float4 e = m == -INFINITY ? float4(0.0f) : precise::exp(s - m);
    sum += e.x + e.y + e.z + e.w;
    store4(out_row, i, p.n, p.vec4 != 0 && i + 4 <= p.n, e);
  }
  const float inv_sum = m == -INFINITY ? 0.0f : 1.0f / sum;
  for (uint i = 0; i < p.n; i += 4) {
    const bool whole = p.vec4 != 0 && i + 4 <= p.n;
    store4(out_row, i, p.n, whole, load4((device const T*)out_row, i, p.n, whole) * inv_sum);
  }
}

#define METALLIC_SOFTMAX_KERNELS(T, tname)                                                     \
  template [[host_name("softmax_vec_" tname)]] [[kernel]] decltype(softmax_vec<T>)            \
      softmax_vec<T>;                                                                          \
  template [[host_name("softmax_block_" tname)]] [[kernel]] decltype(softmax_block<T>)        \
      softmax_block<T>;                                                                        \
  template [[host_name("softmax_row_" tname)]] [[kernel]] decltype(softmax_row<T>) softmax_row<T>;

METALLIC_SOFTMAX_KERNELS(float, "f32")
METALLIC_SOFTMAX_KERNELS(half, "f16")
METALLIC_SOFTMAX_KERNELS(bfloat, "bf16")
