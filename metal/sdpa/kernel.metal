// Threading: a threadgroup of 8 SIMD groups takes 8 query rows of one KV head (GQA: the query
// heads of the group share each K/V tile) and one part of the KV range; SIMD group = row, lane =
// key of a 32-key tile, then lane = output dims lane, lane+32, ... Memory traffic: K and V read
// once per 8 query rows (and per KV part), q read and the output written once; no L x L scores.
#include <metal_stdlib>
#include "sdpa/params.h"
using namespace metal;

constant constexpr uint kRows = 8;     // query rows (SIMD groups) per threadgroup
constant constexpr uint kTile = 32;    // keys per K/V tile (one per lane)
constant constexpr uint kMaxDim = 128;  // largest head_dim
constant constexpr uint kThreads = kRows * 32;
constant constexpr uint kLd = kMaxDim + 1;  // tile row stride: odd, so lanes hit distinct banks

// Flash attention over keys [split * keys_per_split, +keys_per_split) with an online softmax.
// With one split the normalised result goes to `out`; otherwise the unnormalised accumulator
// and (max, sum) go to `part_acc` / `part_stats` for sdpa_combine.
template <typename T>
[[kernel]] void sdpa(device const T* q [[buffer(0)]], device const T* k [[buffer(1)]],
                     device const T* v [[buffer(2)]], device const T* mask [[buffer(3)]],
                     device T* out [[buffer(4)]], device float* part_acc [[buffer(5)]],
                     device float* part_stats [[buffer(6)]], constant SdpaParams& p [[buffer(7)]],
                     uint3 group [[threadgroup_position_in_grid]],
                     uint tid [[thread_index_in_threadgroup]],
                     uint sg [[simdgroup_index_in_threadgroup]],
                     uint lane [[thread_index_in_simdgroup]]) {
  threadgroup float q_tile[kRows][kMaxDim];
  threadgroup float kv_tile[kTile * kLd];
  threadgroup float p_tile[kRows][kTile];

  const uint d_len = p.head_dim;
  const uint batch = group.y / p.kv_heads, kv_head = group.y % p.kv_heads;
  const uint row = group.x * kRows + sg;
  const bool row_valid = row < p.rows;
  const uint qi = row_valid ? row / p.head_repeat : 0;
  const uint q_head = kv_head * p.head_repeat + (row_valid ? row % p.head_repeat : 0);

  // Scaled queries of the block's rows.
  for (uint idx = tid; idx < kRows * d_len; idx += kThreads) {
    const uint r = idx / d_len, d = idx % d_len;
    const uint rr = group.x * kRows + r;
    float value = 0.0f;
    if (rr < p.rows) {
      const uint h = kv_head * p.head_repeat + rr % p.head_repeat;
      value = float(q[batch * p.q_b + h * p.q_h + (rr / p.head_repeat) * p.q_s + d]) * p.scale;
    }
    q_tile[r][d] = value;
  }

  // Keys this threadgroup reads: its part of the range, cut at the block's last visible key.
  const uint begin = group.z * p.keys_per_split;
  uint end = min(p.kv_len, begin + p.keys_per_split);
  const uint shift = p.kv_len - p.q_len;  // causal: query i sees keys j <= i + shift
  if (p.causal) {
    const uint last_row = min(p.rows, (group.x + 1) * kRows) - 1;
    end = min(end, last_row / p.head_repeat + shift + 1);
  }
  const uint visible = p.causal ? qi + shift + 1 : p.kv_len;
  device const T* k_head = k + batch * p.k_b + kv_head * p.k_h;
  device const T* v_head = v + batch * p.v_b + kv_head * p.v_h;
  device const T* mask_row = mask + batch * p.mask_b + q_head * p.mask_h + qi * p.mask_q;

  float m = -INFINITY, l = 0.0f;
  float acc[kMaxDim / 32];
  for (uint c = 0; c < kMaxDim / 32; c++) {
    acc[c] = 0.0f;
  }
  for (uint k0 = begin; k0 < end; k0 += kTile) {
    threadgroup_barrier(mem_flags::mem_threadgroup);  // previous V tile (and q_tile) settled
    for (uint idx = tid; idx < kTile * d_len; idx += kThreads) {
      const uint j = idx / d_len, d = idx % d_len;
      kv_tile[j * kLd + d] = k0 + j < end ? float(k_head[(k0 + j) * p.k_s + d]) : 0.0f;
    }
    threadgroup_barrier(mem_flags::mem_threadgroup);

    const uint key = k0 + lane;
    float s = -INFINITY;
    if (row_valid && key < end && key < visible) {
      float dot = 0.0f;
      for (uint d = 0; d < d_len; d++) {
        dot += q_tile[sg][d] * kv_tile[lane * kLd + d];
      }
      s = p.has_mask ? dot + float(mask_row[key]) : dot;
    }
    const float m_new = max(m, simd_max(s));
    // A row that has seen only masked keys keeps m = -inf: its weights are 0, not NaN.
    const float weight = m_new == -INFINITY ? 0.0f : exp(s - m_new);
    const float alpha = m_new == -INFINITY ? 1.0f : exp(m - m_new);
    l = l * alpha + simd_sum(weight);
    m = m_new;
    p_tile[sg][lane] = weight;
    for (uint c = 0; c < kMaxDim / 32; c++) {
      acc[c] *= alpha;
    }
    threadgroup_barrier(mem_flags::mem_threadgroup);  // K tile read, weights written

    for (uint idx = tid; idx < kTile * d_len; idx += kThreads) {
      const uint j = idx / d_len, d = idx % d_len;
      kv_tile[j * kLd + d] = k0 + j < end ? float(v_head[(k0 + j) * p.v_s + d]) : 0.0f;
    }
    threadgroup_barrier(mem_flags::mem_threadgroup);
    const uint tile_keys = min(kTile, end - k0);
    for (uint c = 0; c < kMaxDim / 32; c++) {
      const uint d = lane + 32 * c;
      if (d < d_len) {
        float sum = 0.0f;
        for (uint j = 0; j < tile_keys; j++) {
          sum += p_tile[sg][j] * kv_tile[j * kLd + d];
        }
        acc[c] += sum;
      }
    }
  }

  if (!row_valid) {
    return;
  }
  if (p.splits == 1) {
    const float inv = l > 0.0f ? 1.0f / l : 0.0f;  // no visible key: 0
    device T* o = out + ((batch * p.kv_heads * p.head_repeat + q_head) * p.q_len + qi) * d_len;
    for (uint c = 0; c < kMaxDim / 32; c++) {
      const uint d = lane + 32 * c;
      if (d < d_len) {
        o[d] = T(acc[c] * inv);
      }
    }
    return;
  }
  const uint part = (group.y * p.rows + row) * p.splits + group.z;
  for (uint c = 0; c < kMaxDim / 32; c++) {
    const uint d = lane + 32 * c;
    if (d < d_len) {
      part_acc[part * d_len + d] = acc[c];
    }
  }
  if (lane == 0) {
    part_stats[part * 2] = m;
    part_stats[part * 2 + 1] = l;
  }
}

// Merges the KV parts of each row: out = sum_s acc_s e^(m_s - M) / sum_s l_s e^(m_s - M). One
// thread per output element.
template <typename T>
[[kernel]] void sdpa_combine(device const float* part_acc [[buffer(0)]],
                             device const float* part_stats [[buffer(1)]],
                             device T* out [[buffer(2)]], constant SdpaParams& p [[buffer(3)]],
                             uint i [[thread_position_in_grid]]) {
  const uint d = i % p.head_dim;
  const uint global_row = i / p.head_dim;  // (batch * kv_heads + kv_head) * rows + row
  const uint group_row = global_row % p.rows, bh = global_row / p.rows;
  if (bh >= p.batch * p.kv_heads) {
    return;
  }
  device const float* stats = part_stats + global_row * p.splits * 2;
  float m_all = -INFINITY;
  for (uint s = 0; s < p.splits; s++) {
    m_all = max(m_all, stats[2 * s]);
  }
  float num = 0.0f, den = 0.0f;
  if (m_all != -INFINITY) {
    for (uint s = 0; s < p.splits; s++) {
      const float w = exp(stats[2 * s] - m_all);
      num += w * part_acc[(global_row * p.splits + s) * p.head_dim + d];
      den += w * stats[2 * s + 1];
    }
  }
  const uint qi = group_row / p.head_repeat;
  const uint q_head = (bh % p.kv_heads) * p.head_repeat + group_row % p.head_repeat;
  const uint batch = bh / p.kv_heads;
  const uint q_heads = p.kv_heads * p.head_repeat;
  out[((batch * q_heads + q_head) * p.q_len + qi) * p.head_dim + d] = T(den > 0.0f ? num / den : 0.0f);
}


// The host device's form ("row" backend): one thread per query row (batch, query head, position)
// walks its visible keys with an online softmax, with no threadgroup memory, barriers or SIMD
// collectives, so the CPU runs it as a plain loop. Reads K and V once per query row.
template <typename T>
[[kernel]] void sdpa_row(device const T* q [[buffer(0)]], device const T* k [[buffer(1)]],
                         device const T* v [[buffer(2)]], device const T* mask [[buffer(3)]],
                         device T* out [[buffer(4)]], constant SdpaParams& p [[buffer(7)]],
                         uint gid [[thread_position_in_grid]]) {
  const uint q_heads = p.kv_heads * p.head_repeat;
  if (gid >= p.batch * q_heads * p.q_len) return;
  const uint qi = gid % p.q_len, head = (gid / p.q_len) % q_heads;
  const uint batch = gid / (p.q_len * q_heads), kv_head = head / p.head_repeat;
  const uint d_len = p.head_dim;
  device const T* q_row = q + batch * p.q_b + head * p.q_h + qi * p.q_s;
  device const T* k_head = k + batch * p.k_b + kv_head * p.k_h;
  device const T* v_head = v + batch * p.v_b + kv_head * p.v_h;
  device const T* mask_row = mask + batch * p.mask_b + head * p.mask_h + qi * p.mask_q;
  float qs[kMaxDim], acc[kMaxDim];
  for (uint d = 0; d < d_len; d++) {
    qs[d] = float(q_row[d]) * p.scale;
    acc[d] = 0.0f;
  }
  const uint visible = p.causal ? min(p.kv_len, qi + p.kv_len - p.q_len + 1) : p.kv_len;
  float m = -INFINITY, l = 0.0f;
  for (uint j = 0; j < visible; j++) {
    device const T* k_row = k_head + j * p.k_s;
    float s = 0.0f;
    for (uint d = 0; d < d_len; d++) s += qs[d] * float(k_row[d]);
    if (p.has_mask) s += float(mask_row[j]);
    if (s == -INFINITY) continue;
    device const T* v_row = v_head + j * p.v_s;
    if (s > m) {  // a new maximum: rescale what was summed so far
      const float c = exp(m - s);
      l *= c;
      for (uint d = 0; d < d_len; d++) acc[d] *= c;
      m = s;
    }
    const float w = exp(s - m);
    l += w;
    for (uint d = 0; d < d_len; d++) acc[d] += w * float(v_row[d]);
  }
  device T* out_row = out + uint(gid) * d_len;
  const float inv = l > 0.0f ? 1.0f / l : 0.0f;  // a row that sees no key gives 0
  for (uint d = 0; d < d_len; d++) out_row[d] = T(acc[d] * inv);
}

template [[host_name("sdpa_f32")]] [[kernel]] decltype(sdpa<float>) sdpa<float>;
template [[host_name("sdpa_f16")]] [[kernel]] decltype(sdpa<half>) sdpa<half>;
template [[host_name("sdpa_combine_f32")]] [[kernel]] decltype(sdpa_combine<float>)
    sdpa_combine<float>;
template [[host_name("sdpa_combine_f16")]] [[kernel]] decltype(sdpa_combine<half>)
    sdpa_combine<half>;
template [[host_name("sdpa_row_f32")]] [[kernel]] decltype(sdpa_row<float>) sdpa_row<float>;
template [[host_name("sdpa_row_f16")]] [[kernel]] decltype(sdpa_row<half>) sdpa_row<half>;
