// Fiber stacks: mmap'd per OS thread with an inaccessible guard page below each, so that an
// overflow faults (and run_guarded reports it) instead of corrupting a neighbour.
#include "fiber_stacks.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>

namespace metal_host::rt::impl {
namespace {

size_t page_size() {
  static const size_t p = size_t(sysconf(_SC_PAGESIZE));
  return p;
}

/// The inaccessible region below each fiber stack: one page. Kernels are compiled with
/// stack-clash protection where the compiler supports it (big frames probe every page in
/// order), so an overflow hits it. Not larger: stacks spaced by a multiple of 64 KiB make the
/// fibers' hot frames collide in the L2 cache (the barrier benchmark loses ~10%).
size_t guard_size() {
  return page_size();
}

}  // namespace

size_t fiber_stack_size() {
  static const size_t size = [] {
    size_t s = 128 * 1024;
    if (const char* env = std::getenv("METALLIC_HOST_FIBER_STACK")) {
      char* end = nullptr;
      unsigned long long v = std::strtoull(env, &end, 10);
      if (end && (*end == 'k' || *end == 'K')) v <<= 10;
      if (end && (*end == 'm' || *end == 'M')) v <<= 20;
      if (v > 0) s = size_t(v);
    }
    s = std::max<size_t>(s, 16 * 1024);
    const size_t p = page_size();
    return (s + p - 1) / p * p;
  }();
  return size;
}

StackPool::~StackPool() {
  for (const Stack& s : stacks) munmap(s.base, s.bytes);
}

bool StackPool::ensure(uint32_t n) {
  const size_t size = fiber_stack_size(), guard = guard_size();
  while (stacks.size() < n) {
    int flags = MAP_PRIVATE | MAP_ANONYMOUS;
#ifdef MAP_NORESERVE
    flags |= MAP_NORESERVE;
#endif
#ifdef MAP_STACK
    flags |= MAP_STACK;
#endif
    void* p = mmap(nullptr, size + guard, PROT_READ | PROT_WRITE, flags, -1, 0);
    if (p == MAP_FAILED) return false;
    if (mprotect(p, guard, PROT_NONE) != 0) {
      munmap(p, size + guard);
      return false;
    }
    stacks.push_back({p, size + guard});
  }
  return true;
}

void* StackPool::bottom(uint32_t i) const {
  return static_cast<char*>(stacks[i].base) + guard_size();
}

bool StackPool::overflowed(uint32_t i, uintptr_t addr, uintptr_t sp) const {
  if (i >= stacks.size()) return false;
  const uintptr_t base = reinterpret_cast<uintptr_t>(stacks[i].base);
  const uintptr_t usable = base + guard_size();
  if (addr >= base && addr < usable) return true;
  return sp != 0 && sp < usable && base - std::min(base, sp) < (uintptr_t(64) << 20);
}

}  // namespace metal_host::rt::impl
