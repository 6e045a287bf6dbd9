// KV-cache ops (metal/kv_cache): write new keys/values into a preallocated cache, expand KV heads
// for grouped-query attention, split a fused QKV projection into heads. All are strided copies
// of [batch, heads, seq, head_dim] regions done by one kernel.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "metallic/context.hpp"

namespace metallic {

namespace kernel_params {
using uint = uint32_t;
#include "kv_cache/params.h"
}  // namespace kernel_params

/// One or more strided copies (kernel kv_cache_copy); the Operation of every kv_cache op.
struct KvCopyOperation {
  struct Copy {
    Tensor src, dst;
    KernelFunction function;
    kernel_params::KvCopyParams params;
  };
  std::vector<Copy> copies;
  void encode(ComputeKernelEncoder& e) const;
};

struct KvCacheWriteOp {
  static constexpr const char* name = "kv_cache_write";
  struct Args {
    Tensor cache;          // [batch, kv_heads, max_seq, head_dim], contiguous; written in place
    Tensor new_values;     // [batch, kv_heads, n, head_dim]
    int64_t position = 0;  // first position written: the cache gets positions [position, +n)
  };
  using Operation = KvCopyOperation;
  /// Returns the view of the cache's valid prefix, positions [0, position + n).
  static std::pair<Operation, Tensor> create(Context& ctx, const Args& args);
};

struct RepeatKvHeadsOp {
  static constexpr const char* name = "repeat_kv_heads";
  struct Args {
    Tensor x;             // [batch, kv_heads, seq, head_dim]
    int64_t repeats = 1;  // output head h is input head h / repeats
  };
  using Operation = KvCopyOperation;
  static std::pair<Operation, Tensor> create(Context& ctx, const Args& args);
};

struct KvRearrangeOp {
  static constexpr const char* name = "kv_rearrange";
  struct Args {
    Tensor qkv;  // [batch, seq, (q_heads + 2 kv_heads) * head_dim] or [seq, ...], contiguous
    int64_t q_heads = 0;
    int64_t kv_heads = 0;
  };
  using Operation = KvCopyOperation;
  /// Returns q [batch, q_heads, seq, head_dim], k and v [batch, kv_heads, seq, head_dim].
  static std::pair<Operation, std::vector<Tensor>> create(Context& ctx, const Args& args);
};

}  // namespace metallic
