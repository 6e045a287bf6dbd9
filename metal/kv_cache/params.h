// Argument struct of the kv_cache kernels, shared by metal/kv_cache/kernel.metal and
// cpp/src/ops/kv_cache.cpp so the layout cannot drift.
#pragma once

// dst[b, h, s, d] = src[src_offset + b*src_b + (h / head_repeat)*src_h + s*src_s + d] over a
// [batch, heads, seq, head_dim] region; strides in elements, head_dim contiguous on both sides.
struct KvCopyParams {
  uint batch, heads, seq, head_dim;
  uint head_repeat;  // 1, or the GQA ratio for repeat_kv_heads
  uint src_offset;
  uint src_b, src_h, src_s;
  uint dst_b, dst_h, dst_s;
};
