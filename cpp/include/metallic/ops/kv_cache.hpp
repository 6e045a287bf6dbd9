// KV-cache ops: write new keys/values into a preallocated cache, expand KV heads for
// grouped-query attention, split a fused QKV projection into heads. Each is a strided view of its
// source copied by the copy kernels (metal/copy), so any source layout is read in place.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "metallic/context.hpp"
#include "metallic/ops/dispatch_list.hpp"

namespace metallic {

struct KvCacheWriteOp {
  static constexpr const char* name = "kv_cache_write";
  struct Args {
    Tensor cache;          // [batch, kv_heads, max_seq, head_dim], contiguous; written in place
    Tensor new_values;     // [batch, kv_heads, n, head_dim], any strides
    int64_t position = 0;  // first position written: the cache gets positions [position, +n)
  };
  using Operation = DispatchList;
  /// Returns the view of the cache's valid prefix, positions [0, position + n).
  static std::pair<Operation, Tensor> create(Context& ctx, const Args& args);
};

struct RepeatKvHeadsOp {
  static constexpr const char* name = "repeat_kv_heads";
  struct Args {
    Tensor x;             // [batch, kv_heads, seq, head_dim], any strides
    int64_t repeats = 1;  // output head h is input head h / repeats
  };
  using Operation = DispatchList;
  static std::pair<Operation, Tensor> create(Context& ctx, const Args& args);
};

struct KvRearrangeOp {
  static constexpr const char* name = "kv_rearrange";
  struct Args {
    Tensor qkv;  // [batch, seq, (q_heads + 2 kv_heads) * head_dim] or [seq, ...], contiguous
    int64_t q_heads = 0;
    int64_t kv_heads = 0;
  };
  using Operation = DispatchList;
  /// Returns q [batch, q_heads, seq, head_dim], k and v [batch, kv_heads, seq, head_dim].
  static std::pair<Operation, std::vector<Tensor>> create(Context& ctx, const Args& args);
};

}  // namespace metallic
