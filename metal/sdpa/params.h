// Argument struct of the sdpa kernels, shared by metal/sdpa/kernel.metal and cpp/src/ops/sdpa.cpp
// so the layout cannot drift.
#pragma once

// Tensors are [batch, heads, seq, head_dim] with head_dim contiguous; strides in elements. The
// rows of one KV head are its (query position i, query head of the group r) pairs, position-major:
// row = i * head_repeat + r, query head = kv_head * head_repeat + r.
struct SdpaParams {
  uint batch, kv_heads;
  uint head_repeat;  // query heads per KV head (GQA)
  uint q_len, kv_len, head_dim;
  uint rows;  // q_len * head_repeat
  uint q_b, q_h, q_s;
  uint k_b, k_h, k_s;
  uint v_b, v_h, v_s;
  uint mask_b, mask_h, mask_q;  // 0 along broadcast dimensions
  uint has_mask;
  uint causal;  // key j is visible to query i when j <= i + kv_len - q_len (bottom-right)
  float scale;
  uint splits;          // parts of the KV range, one per threadgroup (z of the grid)
  uint keys_per_split;  // a multiple of the key tile
};
