// Private to the runtime: the fiber stacks of one OS thread, mmap'd with a guard page below
// each and reused across threadgroups.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#pragma GCC visibility push(hidden)

namespace metal_host::rt::impl {

/// Usable bytes of one fiber stack: 128 KiB, or METALLIC_HOST_FIBER_STACK (bytes, or with a
/// k/m suffix), rounded up to pages.
size_t fiber_stack_size();

/// Stacks of this OS thread, mmap'd with a guard page below each, reused across threadgroups.
struct StackPool {
  struct Stack {
    void* base;
    size_t bytes;
  };
  std::vector<Stack> stacks;

  StackPool() = default;
  StackPool(const StackPool&) = delete;
  StackPool& operator=(const StackPool&) = delete;
  ~StackPool();
  /// Makes sure there are at least n stacks; false if mmap fails.
  bool ensure(uint32_t n);
  void* top(uint32_t i) const { return static_cast<char*>(stacks[i].base) + stacks[i].bytes; }
  /// The lowest usable address of stack i (just above its guard).
  void* bottom(uint32_t i) const;
  /// True if a fault at `addr` with stack pointer `sp` is fiber i overflowing its stack: the
  /// address is in its guard region, or the stack pointer went below its usable part.
  bool overflowed(uint32_t i, uintptr_t addr, uintptr_t sp) const;
};

}  // namespace metal_host::rt::impl

#pragma GCC visibility pop
