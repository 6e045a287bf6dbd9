// Reuses device buffers across tensors: allocation is the most expensive thing an op does.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <vector>

#include "metallic/device.hpp"

namespace metallic {

struct BufferPoolStats {
  size_t allocations = 0;      // buffers ever allocated from the device
  size_t reuses = 0;           // acquisitions served from the free lists
  size_t bytes_allocated = 0;  // bytes of all live pool-owned buffers (in use + free)
  size_t bytes_free = 0;       // bytes sitting in the free lists
};

class BufferPool {
 public:
  /// Keeps at most `max_free_bytes` in the free lists; a released buffer past that is freed.
  BufferPool(Device& device, size_t max_free_bytes)
      : device_(device), max_free_bytes_(max_free_bytes) {}

  struct Lease {
    BufferPtr buffer;
    uint64_t last_use = 0;  // the buffer's previous user may still be pending until this seq
  };
  /// A buffer of at least `bytes` bytes, rounded up to the pool's size class.
  Lease acquire(size_t bytes);
  void release(BufferPtr buffer, uint64_t last_use);
  /// Frees every buffer in the free lists.
  void trim();
  BufferPoolStats stats() const { return stats_; }

  /// The size class that a request of `bytes` is rounded up to.
  static size_t size_class(size_t bytes);

 private:
  Device& device_;
  size_t max_free_bytes_;
  std::map<size_t, std::vector<Lease>> free_;
  BufferPoolStats stats_;
};

}  // namespace metallic
