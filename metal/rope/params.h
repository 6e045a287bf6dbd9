// Argument struct of the rope kernels, shared by metal/rope/kernel.metal and cpp/src/ops/rope.cpp
// so the layout cannot drift.
#pragma once

struct RopeParams {
  uint head_dim;
  uint rotary_dim;    // even, <= head_dim; dims [rotary_dim, head_dim) pass through
  uint heads;
  uint seq;
  uint seq_stride;    // elements between tokens s and s + 1 of one head
  uint head_stride;   // elements between heads h and h + 1 of one token
  uint batch_stride;  // elements between batch entries
  int offset;         // position of token 0 when positions is unbound
  uint positions_batch_stride;  // 0: positions is [seq], shared by the batch; seq: [batch, seq]
  uint has_positions;           // 1: positions[b, s] gives each token's position
  float theta;
};
