#include "metallic/buffer_pool.hpp"

namespace metallic {

size_t BufferPool::size_class(size_t bytes) {
  // Small requests round to 256 bytes; larger ones to a quarter of their power of two, so a
  // reused buffer wastes at most 25%.
  if (bytes <= 4096) return ((bytes + 255) / 256) * 256 + (bytes == 0 ? 256 : 0);
  size_t p = 1;
  while (p < bytes) p <<= 1;
  const size_t step = p / 8;
  return ((bytes + step - 1) / step) * step;
}

BufferPool::Lease BufferPool::acquire(size_t bytes) {
  const size_t size = size_class(bytes);
  auto it = free_.find(size);
  if (it != free_.end() && !it->second.empty()) {
    Lease lease = std::move(it->second.back());
    it->second.pop_back();
    stats_.reuses++;
    stats_.bytes_free -= size;
    return lease;
  }
  Lease lease{device_.allocate(size), 0};
  stats_.allocations++;
  stats_.bytes_allocated += size;
  return lease;
}

void BufferPool::release(BufferPtr buffer, uint64_t last_use) {
  const size_t size = buffer->length();
  if (stats_.bytes_free + size > max_free_bytes_) {
    // Freed, not cached (a pending command that still uses it keeps it alive until it is done).
    stats_.bytes_allocated -= size;
    return;
  }
  stats_.bytes_free += size;
  free_[size].push_back({std::move(buffer), last_use});
}

void BufferPool::trim() {
  for (auto& [size, leases] : free_) {
    stats_.bytes_allocated -= size * leases.size();
    stats_.bytes_free -= size * leases.size();
  }
  free_.clear();
}

}  // namespace metallic
