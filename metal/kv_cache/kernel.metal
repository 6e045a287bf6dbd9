// Threading: one thread per element of the [batch, heads, seq, head_dim] region, 1-d grid,
// threadgroups of 256. Memory traffic: one read and one write per element (the minimum of a copy).
#include <metal_stdlib>
#include "kv_cache/params.h"
using namespace metal;

// The strided 4-d copy behind kv_cache_write (into the cache at a position), repeat_kv_heads
// (head h reads head h / head_repeat) and kv_rearrange (q, k, v heads out of a fused projection).
template <typename T>
[[kernel]] void kv_cache_copy(device const T* src [[buffer(0)]], device T* dst [[buffer(1)]],
                              constant KvCopyParams& p [[buffer(2)]],
                              uint i [[thread_position_in_grid]]) {
  const uint d = i % p.head_dim;
  uint rest = i / p.head_dim;
  const uint s = rest % p.seq;
  rest /= p.seq;
  const uint h = rest % p.heads;
  const uint b = rest / p.heads;
  if (b >= p.batch) {
    return;
  }
  const uint from = p.src_offset + b * p.src_b + (h / p.head_repeat) * p.src_h + s * p.src_s + d;
  dst[b * p.dst_b + h * p.dst_h + s * p.dst_s + d] = src[from];
}

template [[host_name("kv_cache_copy_f32")]] [[kernel]] decltype(kv_cache_copy<float>)
    kv_cache_copy<float>;
template [[host_name("kv_cache_copy_f16")]] [[kernel]] decltype(kv_cache_copy<half>)
    kv_cache_copy<half>;
template [[host_name("kv_cache_copy_bf16")]] [[kernel]] decltype(kv_cache_copy<bfloat>)
    kv_cache_copy<bfloat>;
