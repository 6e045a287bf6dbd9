// Private to the runtime: the fiber scheduler of one OS thread, which runs the threads of one
// threadgroup round-robin, switching at barriers and SIMD-group collectives. The hot paths
// (arrive, complete, switch) are inline here for the sync functions in fiber_scheduler.cpp.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "asan_fibers.h"
#include "fiber_stacks.h"
#include "message.h"
#include "metal/runtime/exec.h"
#include "metal/runtime/launch.h"
#include "thread_state.h"

#pragma GCC visibility push(hidden)

namespace metal_host::rt::impl {

enum FiberState : uint8_t { kRunnable = 0, kWaiting = 1, kDone = 2 };
enum WaitKind : uint8_t { kNoWait = 0, kCollective = 1, kSimdBarrier = 2, kTgBarrier = 3 };

constexpr uint32_t kMaxThreads = 1024;
constexpr uint32_t kNoFiber = 0xFFFFFFFFu;

struct Fiber {
  void* sp = nullptr;
  void* stack_top = nullptr;
  ThreadIds ids{};
  uint32_t index = 0, simd = 0, lane = 0;
  uint8_t kind = kNoWait;           // meaningful while waiting (state in Scheduler::fstate)
  const void* site = nullptr;       // what identifies the sync point (tag or call site)
  const void* call_site = nullptr;  // return address into the kernel (for messages)
  const char* what = nullptr;
  void* asan_fake = nullptr;  // ASan builds: this fiber's fake stack while it is switched out
};

struct alignas(64) SimdGroup {
  uint32_t first = 0;    // fiber index of lane 0
  uint32_t lanes = 0;    // threads in this SIMD group
  uint32_t active = 0;   // lanes not returned
  uint32_t waiting = 0;  // lanes blocked at a sync point
  uint32_t done = 0;     // lanes returned
  uint32_t parity = 0;
  uint8_t kind = kNoWait;
  bool diverged = false;
  const void* site = nullptr;
  uint64_t active_mask = 0;
  uint64_t result_mask[2] = {0, 0};
  uint32_t cache_valid[2] = {0, 0};
  alignas(64) unsigned char slots[2][kSimdWidth][kSlotBytes];
  alignas(64) unsigned char cache[2][kCacheBytes];
};

/// The scheduler of one OS thread.
struct Scheduler {
  StackPool stacks;
  std::vector<Fiber> fibers;
  std::vector<uint8_t> fstate;  // FiberState by fiber index (compact: released in bulk)
  std::unique_ptr<SimdGroup[]> groups;
  uint32_t group_capacity = 0;
  std::vector<uint32_t> queue;  // ring buffer of runnable fiber indices
  uint32_t qhead = 0, qcount = 0;

  uint32_t n = 0, ngroups = 0, done = 0, tg_arrived = 0;
  void* main_sp = nullptr;
  void* main_asan_fake = nullptr;  // ASan builds: the OS thread's fake stack during a run
  AsanStack main_stack;            // ASan builds: the OS thread's stack (learnt on first entry)
  BodyFn body = nullptr;
  const mtlh_dispatch* d = nullptr;
  ThreadgroupState group{};
  ThreadIds tg_ids{};
  State* st = nullptr;
  bool strict = false;  // METALLIC_HOST_STRICT_SIMD_SITES
  bool failed = false;
  char error[768];

  void push(uint32_t i) {
    uint32_t slot = qhead + qcount;
    if (slot >= n) slot -= n;
    queue[slot] = i;
    ++qcount;
  }
  uint32_t pop() {
    if (qcount == 0) return kNoFiber;
    const uint32_t i = queue[qhead];
    if (++qhead == n) qhead = 0;
    --qcount;
    return i;
  }

  bool setup(uint32_t threads) {
    if (!stacks.ensure(threads)) return false;
    if (fibers.size() < threads) fibers.resize(threads);
    if (fstate.size() < threads) fstate.resize(threads);
    if (queue.size() < threads) queue.resize(threads);
    const uint32_t ng = (threads + kSimdWidth - 1) / kSimdWidth;
    if (group_capacity < ng) {
      groups.reset(new SimdGroup[ng]);
      group_capacity = ng;
    }
    return true;
  }

  static void fiber_main(void* arg);

  /// Top of fiber i's stack, staggered by a cache-line colour so that the hot frames of the
  /// fibers do not all map to the same cache sets (the stacks are page-aligned).
  void* stack_top(uint32_t i) const { return static_cast<char*>(stacks.top(i)) - (i % 64) * 64; }

  /// ASan builds: the usable region of fiber i's stack (nothing to compute otherwise).
  AsanStack fiber_stack(uint32_t i) const {
#ifdef MTLH_ASAN
    char* bottom = static_cast<char*>(stacks.bottom(i));
    return {bottom, size_t(static_cast<char*>(stacks.top(i)) - bottom)};
#else
    (void)i;
    return {};
#endif
  }

  /// Switches from fiber `self` to the OS thread's stack, for good (run() takes over).
  [[noreturn]] void leave_to_main(Fiber* self) {
    asan_start_switch(nullptr, main_stack);
    mtlh_fiber_switch(&self->sp, main_sp);
    __builtin_unreachable();
  }

  /// Switches away from `self` (which must not be runnable unless queued) to the next
  /// runnable fiber; returns when `self` is resumed. Never returns on a fault.
  void yield_from(Fiber* self) {
    const uint32_t next = pop();
    if (__builtin_expect(next == kNoFiber, 0)) {
      diagnose();
      leave_to_main(self);
    }
    Fiber* nf = &fibers[next];
    if (nf == self) return;
    st->fiber = nf;
    st->ids = &nf->ids;
    asan_start_switch(&self->asan_fake, fiber_stack(nf->index));
    mtlh_fiber_switch_fast(&self->sp, nf->sp);
    asan_finish_switch(self->asan_fake);
  }

  [[noreturn]] void fail_from(Fiber* self) {
    failed = true;
    leave_to_main(self);
  }

  /// ASan builds, back on the OS thread's stack after a threadgroup: clears the poison of the
  /// frames its fibers abandoned (each fiber's stack above its last saved stack pointer).
  void asan_release_stacks() {
#ifdef MTLH_ASAN
    for (uint32_t i = 0; i < n; ++i) asan_unpoison(fibers[i].sp, stacks.top(i));
#endif
  }

  /// ASan builds, after a fault in kernel code jumped back to the OS thread's stack
  /// (run_guarded): ASan still takes the faulting fiber's stack for the current one, and every
  /// fiber of the threadgroup was abandoned mid-frame.
  void asan_recovered_from_fault() {
#ifdef MTLH_ASAN
    if (main_stack.size == 0) return;  // no fiber ever ran on this thread
    asan_start_switch(nullptr, main_stack);
    asan_finish_switch(nullptr);
    for (uint32_t i = 0; i < n; ++i) asan_unpoison(stacks.bottom(i), stacks.top(i));
#endif
  }

  void release_group(SimdGroup& g) {
    g.result_mask[g.parity] = g.active_mask;
    g.cache_valid[g.parity] = 0;
    g.parity ^= 1;
    g.waiting = 0;
    g.kind = kNoWait;
    g.site = nullptr;
    uint8_t* st8 = &fstate[g.first];
    for (uint32_t l = 0; l < g.lanes; ++l) {
      if (st8[l] == kWaiting) {
        st8[l] = kRunnable;
        push(g.first + l);
      }
    }
  }

  /// Completes the SIMD-group sync point of g if every lane that must come has come.
  void try_complete(SimdGroup& g) {
    if (g.waiting == 0 || g.diverged || g.waiting != g.active) return;
    if (g.kind == kCollective || (g.kind == kSimdBarrier && g.done == 0)) release_group(g);
  }

  void arrive(Fiber* f, SimdGroup& g, uint8_t kind, const void* site, const char* what) {
    fstate[f->index] = kWaiting;
    f->kind = kind;
    f->site = site;
    f->what = what;
    if (g.waiting == 0) {
      g.kind = kind;
      g.site = site;
    } else if (g.kind != kind || g.site != site) {
      g.diverged = true;
    }
    ++g.waiting;
  }

  void finish(Fiber* f) {
    fstate[f->index] = kDone;
    f->kind = kNoWait;
    ++done;
    SimdGroup& g = groups[f->simd];
    --g.active;
    ++g.done;
    g.active_mask &= ~(uint64_t(1) << f->lane);
    try_complete(g);
    if (done == n) leave_to_main(f);
    yield_from(f);  // a finished fiber is never queued again
    __builtin_unreachable();
  }

  // In deadlock_diagnostics.cpp.
  void list_threads(Msg& m, const std::vector<uint32_t>& idx);
  static const char* kind_name(const Fiber& f);
  /// No fiber can run but some have not returned: explain why (names the threads).
  void diagnose();

  int run(State& s, const mtlh_dispatch* disp, uint32_t first, uint32_t count, const char* kernel,
          BodyFn b, char* err, size_t errlen);
};

}  // namespace metal_host::rt::impl

#pragma GCC visibility pop
