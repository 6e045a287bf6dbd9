// ResourceCache: the per-context caches of graph kernels, reached only through it (no ad-hoc
// maps in ops): GraphExecutableCache (compiled graphs by kernel, shapes, dtypes, policy and
// attributes; LRU with a capacity) and MaskArena (causal masks as device tensors, by kind,
// sizes and dtype; LRU too, since every prefill length makes another). Both count hits, misses
// and evictions. See docs/graph-kernels.md.
#pragma once

#include <cstdint>
#include <functional>
#include <list>
#include <map>
#include <string>
#include <tuple>
#include <utility>

#include "metallic/device.hpp"
#include "metallic/graph_kernel.hpp"
#include "metallic/tensor.hpp"

namespace metallic {

class Context;

/// The counters of one cache.
struct CacheStats {
  uint64_t hits = 0, misses = 0, evictions = 0;
  size_t entries = 0, capacity = 0;
};

/// A map that keeps at most `capacity` entries, dropping the least recently used.
template <class Key, class Value>
class LruCache {
 public:
  /// An empty cache that keeps at most `capacity` entries.
  explicit LruCache(size_t capacity) { stats_.capacity = capacity; }

  /// The value of `key`, made by `make` on a miss.
  const Value& get_or_create(const Key& key, const std::function<Value()>& make) {
    if (auto it = index_.find(key); it != index_.end()) {
      ++stats_.hits;
      order_.splice(order_.begin(), order_, it->second);
      return it->second->second;
    }
    ++stats_.misses;
    Value value = make();  // may throw: the cache is unchanged then
    order_.emplace_front(key, std::move(value));
    index_[key] = order_.begin();
    trim();
    return order_.front().second;
  }
  /// Changes the capacity (at least 1), evicting what no longer fits.
  void set_capacity(size_t capacity) {
    stats_.capacity = capacity;
    trim();
  }
  /// The counters and the current number of entries.
  CacheStats stats() const {
    CacheStats s = stats_;
    s.entries = order_.size();
    return s;
  }

 private:
  /// Evicts the least recently used entries until the capacity holds.
  void trim() {
    while (order_.size() > stats_.capacity) {
      index_.erase(order_.back().first);
      order_.pop_back();
      ++stats_.evictions;
    }
  }

  std::list<std::pair<Key, Value>> order_;  // most recently used first
  std::map<Key, typename std::list<std::pair<Key, Value>>::iterator> index_;
  CacheStats stats_;
};

/// Compiled graphs of graph kernels (Device::compile_graph is slow on Metal).
using GraphExecutableCache = LruCache<GraphKernelKey, GraphExecutablePtr>;

/// The masks the arena holds, in additive form (0 where visible, -inf where masked).
enum class MaskKind : uint8_t {
  Causal,  // [q_len, kv_len]: key j hidden from query i when j > i + kv_len - q_len
};

/// Masks as device tensors, written once and then only read by graph executions.
class MaskArena {
 public:
  struct Key {
    MaskKind kind;
    int64_t q_len, kv_len;
    DType dtype;
    bool operator<(const Key& o) const {
      return std::tie(kind, q_len, kv_len, dtype) < std::tie(o.kind, o.q_len, o.kv_len, o.dtype);
    }
  };
  /// An empty arena that keeps at most `capacity` masks.
  explicit MaskArena(size_t capacity) : masks_(capacity) {}
  /// The mask of `key` on `ctx`'s device.
  Tensor get_or_create(Context& ctx, const Key& key);
  /// The arena's counters.
  CacheStats stats() const { return masks_.stats(); }

 private:
  // Buffers, not Tensors: a tensor keeps its context alive, and the context owns the arena.
  LruCache<Key, BufferPtr> masks_;
};

/// A context's graph-kernel caches.
class ResourceCache {
 public:
  /// `executable_capacity` 0: METALLIC_GRAPH_CACHE_CAPACITY or the default of 64.
  explicit ResourceCache(size_t executable_capacity = 0);

  /// The compiled graph of `key` on `device`, built and compiled on a miss.
  GraphExecutablePtr get_or_create_mpsgraph_executable(Device& device, const GraphKernelKey& key);
  /// The mask of `kind` for `q_len` queries and `kv_len` keys in `dtype`, made on a miss.
  Tensor get_or_create_mpsgraph_mask(Context& ctx, MaskKind kind, int64_t q_len, int64_t kv_len,
                                     DType dtype);

  /// The GraphExecutableCache's counters.
  CacheStats executable_stats() const { return executables_.stats(); }
  /// The MaskArena's counters.
  CacheStats mask_stats() const { return masks_.stats(); }
  /// Changes the executable cache's capacity (at least 1), evicting what no longer fits.
  void set_executable_capacity(size_t capacity);

  /// Masks the arena keeps (they are small next to the attention they serve).
  static constexpr size_t kMaskCapacity = 16;

 private:
  GraphExecutableCache executables_;
  MaskArena masks_;
};

}  // namespace metallic
