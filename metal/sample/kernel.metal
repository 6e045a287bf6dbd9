// Threading: one threadgroup of 32..256 threads (a multiple of 32, by vocabulary) per row; each
// pass strides the vocabulary over the threads and reduces with SIMD sums and threadgroup memory.
// Memory traffic: up to 18 reads of the row (max, 8 radix passes for top-k, 8 for top-p, the
// draw) where 1 is the minimum, and one i32 written; greedy reads it once. No sort: top-k and top-p are thresholds found by a 4-bit radix search.
#include <metal_stdlib>
#include "common/philox.h"
#include "sample/params.h"
using namespace metal;

constant constexpr uint kMaxSimdGroups = 8;  // up to 256 threads (fewer for a short vocabulary)
constant constexpr uint kBins = 16;  // radix digit: 4 bits of the key per pass

// An unsigned key that orders like the float: larger logit, larger key.
inline uint order_key(float x) {
  const uint bits = as_type<uint>(x);
  return (bits & 0x80000000u) != 0 ? ~bits : bits | 0x80000000u;
}

// Largest key t (built 4 bits at a time from the top) with weight(keys >= t) >= target, where an
// element weighs `count ? 1 : its softmax weight` and only keys >= `floor` count. With
// relative_target, target is a fraction of the total weight.
template <typename T>
inline uint threshold_key(device const T* row, constant SampleParams& p, float max_logit,
                          uint floor_key, bool count, float target, bool relative_target,
                          threadgroup float* hist_scratch, uint tid, uint threads,
                          uint sg, uint lane) {
  uint prefix = 0;
  for (int shift = 28; shift >= 0; shift -= 4) {
    const uint high = shift == 28 ? 0u : ~0u << uint(shift + 4);  // bits already decided
    float hist[kBins + 1];  // [digit] for keys in the prefix's range, [kBins] above it
    for (uint b = 0; b <= kBins; b++) {
      hist[b] = 0.0f;
    }
    for (uint i = tid; i < p.vocab; i += threads) {
      const float x = float(row[i]);
      const uint key = order_key(x);
      if (key < floor_key || (key & high) < prefix) {
        continue;
      }
      const float w = count ? 1.0f : exp((x - max_logit) * p.inv_temperature);
      hist[(key & high) > prefix ? kBins : (key >> uint(shift)) & (kBins - 1)] += w;
    }
    for (uint b = 0; b <= kBins; b++) {
      const float s = simd_sum(hist[b]);
      if (lane == 0) {
        hist_scratch[sg * (kBins + 1) + b] = s;
      }
    }
    threadgroup_barrier(mem_flags::mem_threadgroup);
    for (uint b = 0; b <= kBins; b++) {
      hist[b] = 0.0f;
      for (uint s = 0; s < threads / 32; s++) {
        hist[b] += hist_scratch[s * (kBins + 1) + b];
      }
    }
    threadgroup_barrier(mem_flags::mem_threadgroup);
    if (relative_target && shift == 28) {
      float total = 0.0f;
      for (uint b = 0; b <= kBins; b++) {
        total += hist[b];
      }
      target *= total;
    }
    float cumulative = hist[kBins];
    uint digit = 0;  // rounding may leave every digit short of the target: take the lowest
    for (int d = int(kBins) - 1; d >= 0; d--) {
      cumulative += hist[d];
      if (cumulative >= target) {
        digit = uint(d);
        break;
      }
    }
    prefix |= digit << uint(shift);
  }
  return prefix;
}

template <typename T>
[[kernel]] void sample(device const T* logits [[buffer(0)]], device int* out [[buffer(1)]],
                       constant SampleParams& p [[buffer(2)]],
                       uint row_index [[threadgroup_position_in_grid]],
                       uint tid [[thread_index_in_threadgroup]],
                       uint threads [[threads_per_threadgroup]],
                       uint sg [[simdgroup_index_in_threadgroup]],
                       uint lane [[thread_index_in_simdgroup]]) {
  threadgroup float scratch[kMaxSimdGroups];
  threadgroup uint index_scratch[kMaxSimdGroups];
  threadgroup float hist_scratch[kMaxSimdGroups * (kBins + 1)];
  const uint simd_groups = threads / 32;
  device const T* row = logits + row_index * p.vocab;

  // Max (and the first index holding it, for greedy).
  float best = -INFINITY;
  uint best_index = 0xFFFFFFFFu;
  for (uint i = tid; i < p.vocab; i += threads) {
    const float x = float(row[i]);
    if (x > best || best_index == 0xFFFFFFFFu) {
      best = x, best_index = i;
    }
  }
  const float max_logit = simd_max(best);
  uint first = simd_min(best == max_logit ? best_index : 0xFFFFFFFFu);
  if (lane == 0) {
    scratch[sg] = max_logit;
    index_scratch[sg] = first;
  }
  threadgroup_barrier(mem_flags::mem_threadgroup);
  float m = -INFINITY;
  first = 0xFFFFFFFFu;
  for (uint s = 0; s < simd_groups; s++) {
    if (scratch[s] > m || (scratch[s] == m && index_scratch[s] < first)) {
      m = scratch[s], first = index_scratch[s];
    }
  }
  threadgroup_barrier(mem_flags::mem_threadgroup);
  if (p.greedy != 0) {
    if (tid == 0) {
      out[row_index] = int(first);
    }
    return;
  }

  // The kept set is every logit with key >= threshold: top-k (ties at the k-th value kept),
  // then top-p over the top-k softmax (the smallest head reaching top_p, crossing token included).
  uint threshold = 0;
  if (p.top_k > 0 && p.top_k < p.vocab) {
    threshold = threshold_key(row, p, m, 0u, true, float(p.top_k), false, hist_scratch, tid, threads,
                              sg, lane);
  }
  if (p.top_p < 1.0f) {
    threshold = max(threshold, threshold_key(row, p, m, threshold, false, p.top_p, true,
                                             hist_scratch, tid, threads, sg, lane));
  }

  // Inverse-CDF draw in index order: each thread owns a contiguous chunk of the vocabulary.
  const uint chunk = (p.vocab + threads - 1) / threads;
  const uint begin = min(p.vocab, tid * chunk), end = min(p.vocab, begin + chunk);
  float own = 0.0f;
  for (uint i = begin; i < end; i++) {
    const float x = float(row[i]);
    own += order_key(x) >= threshold ? exp((x - m) * p.inv_temperature) : 0.0f;
  }
  float before = simd_prefix_exclusive_sum(own);
  if (lane == 31) {
    scratch[sg] = before + own;
  }
  threadgroup_barrier(mem_flags::mem_threadgroup);
  float total = 0.0f;
  for (uint s = 0; s < simd_groups; s++) {
    before += s < sg ? scratch[s] : 0.0f;
    total += scratch[s];
  }
  const uint bits = philox4x32_10(uint4(row_index, p.step_lo, p.step_hi, 0u), uint2(p.seed_lo, p.seed_hi)).x;
  const float u = float(bits >> 8) * (1.0f / 16777216.0f) * total;
  // The last thread with kept weight whose chunk starts at or before u holds the draw.
  const bool candidate = own > 0.0f && before <= u;
  uint winner = simd_max(candidate ? tid : 0u);
  if (lane == 0) {
    index_scratch[sg] = winner;
  }
  threadgroup_barrier(mem_flags::mem_threadgroup);
  for (uint s = 0; s < simd_groups; s++) {
    winner = max(winner, index_scratch[s]);
  }
  if (tid != winner) {
    return;
  }
  float cumulative = before;
  int token = -1;
  for (uint i = begin; i < end; i++) {
    const float x = float(row[i]);
    if (order_key(x) >= threshold) {
      token = int(i);  // the last kept token, should rounding leave u beyond the total
      cumulative += exp((x - m) * p.inv_temperature);
      if (cumulative > u) {
        break;
      }
    }
  }
  out[row_index] = token;
}

template [[host_name("sample_f32")]] [[kernel]] decltype(sample<float>) sample<float>;
template [[host_name("sample_f16")]] [[kernel]] decltype(sample<half>) sample<half>;
template [[host_name("sample_bf16")]] [[kernel]] decltype(sample<bfloat>) sample<bfloat>;
