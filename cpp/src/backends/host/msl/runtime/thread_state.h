// Private to the runtime: what the execution model keeps per OS thread (the running kernel and
// thread, threadgroup memory, cached function constants), and disarming fault catching while
// the runtime itself allocates. Hidden: each kernel library keeps its own per-thread state.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "metal/runtime/exec.h"
#include "metal/runtime/launch.h"

#pragma GCC visibility push(hidden)

namespace metal_host::rt::impl {

enum Mode : uint32_t { kNone = 0, kPlain = 1, kFibers = 2 };

constexpr uint32_t kConstTable = 1024;  // function constants with index < this use a table

/// Threadgroup memory: a per-OS-thread bump arena reset at every threadgroup.
struct Arena {
  std::vector<std::unique_ptr<unsigned char[]>> chunks;
  std::vector<size_t> sizes;
  size_t used = 0;   // in the last chunk
  size_t total = 0;  // bytes requested in this threadgroup

  void reset();
  void add_chunk(size_t bytes);
  void* alloc(size_t size, size_t align);
};

struct TgVar {
  uint64_t epoch = 0;
  void* ptr = nullptr;
  size_t size = 0;
};

struct ConstEntry {
  int64_t i = 0;
  double f = 0;
  bool defined = false;
  uint64_t gen = 0;  // valid when equal to State::const_gen
};

struct Fiber;
struct Scheduler;

/// Everything the execution model keeps per OS thread.
struct State {
  uint32_t mode = kNone;
  const mtlh_dispatch* d = nullptr;
  const char* kernel = nullptr;
  const ThreadIds* ids = nullptr;  // the running thread
  uint32_t threads = 0;            // threads in the current threadgroup
  Scheduler* sched = nullptr;      // in fiber mode
  Fiber* fiber = nullptr;          // the running fiber (fiber mode)
  uint32_t tg_linear = 0;          // the current threadgroup (plain mode)

  // While kernel code runs under run_guarded: this thread's slot in the fault handler (holding
  // the target while armed, null while the runtime itself allocates).
  mtlh_fault_target* volatile* fault_slot = nullptr;

  // threadgroup memory
  Arena arena;
  uint64_t epoch = 0;
  std::vector<TgVar> vars;

  // function constants (cached per run_threadgroups call)
  uint64_t const_gen = 1;
  ConstEntry consts[kConstTable];

  // plain-mode scratch for a lone thread's collectives
  alignas(64) unsigned char lone_slot[kSlotBytes];
  uint32_t lone_cache_valid = 0;
  alignas(64) unsigned char lone_cache[kCacheBytes];
};

// __thread, not thread_local: a trivially initialised pointer needs no TLS wrapper call when
// another file reads it.
extern __thread State* t_state;

State& new_state();

/// This OS thread's state, created on first use.
inline State& state() {
  State* s = t_state;
  if (__builtin_expect(s == nullptr, 0)) return new_state();
  return *s;
}

/// Disarms fault catching while the runtime allocates: a fault inside malloc (a heap the kernel
/// corrupted) must not be jumped out of with the allocator's lock held; it crashes as before.
struct Disarm {
  mtlh_fault_target* volatile* slot;
  mtlh_fault_target* saved;
  explicit Disarm(State& s) : slot(s.fault_slot), saved(slot ? *slot : nullptr) {
    if (slot) *slot = nullptr;
    std::atomic_signal_fence(std::memory_order_seq_cst);
  }
  ~Disarm() {
    std::atomic_signal_fence(std::memory_order_seq_cst);
    if (slot) *slot = saved;
  }
  Disarm(const Disarm&) = delete;
  Disarm& operator=(const Disarm&) = delete;
};

/// Disarms for good (until run_guarded returns): before throwing, which allocates and unwinds.
inline void disarm(State& s) {
  if (s.fault_slot) *s.fault_slot = nullptr;
  std::atomic_signal_fence(std::memory_order_seq_cst);
}

/// Back to no kernel running on this thread (after a fiber run, or a fault that abandoned one).
inline void leave_kernel(State& s) {
  s.mode = kNone;
  s.d = nullptr;
  s.kernel = nullptr;
  s.ids = nullptr;
  s.fiber = nullptr;
  ++s.const_gen;
}

/// Starts a threadgroup of `threads` threads: fresh threadgroup memory and buffers.
void new_threadgroup(State& s, ThreadgroupState& group, uint32_t threads);

}  // namespace metal_host::rt::impl

#pragma GCC visibility pop
