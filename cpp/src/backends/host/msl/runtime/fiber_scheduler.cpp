// The fiber execution model: the threads of one threadgroup run as fibers round-robin on the
// calling OS thread, switching at barriers and SIMD-group collectives (run_fibers, the run loop,
// and the sync functions kernel code calls: simd_exchange, simd_barrier, threadgroup_barrier).
#include "fiber_scheduler.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <memory>

#include "message.h"
#include "thread_state.h"

namespace metal_host::rt {
namespace impl {

void Scheduler::fiber_main(void* arg) {
  Fiber* f = static_cast<Fiber*>(arg);
  State& s = *t_state;
  Scheduler* sc = s.sched;
  const AsanStack from = asan_finish_switch(nullptr);
  if (sc->main_stack.size == 0) sc->main_stack = from;  // the first fiber comes from the OS thread
  try {
    sc->body(sc->d, f->ids, sc->group);
  } catch (const std::exception& e) {
    if (std::strncmp(e.what(), "kernel ", 7) == 0) {
      std::snprintf(sc->error, sizeof sc->error, "%s", e.what());
    } else {
      char tg[48], th[48];
      format_pos(tg, sizeof tg, f->ids.threadgroup_position_in_grid);
      format_pos(th, sizeof th, f->ids.thread_position_in_threadgroup);
      std::snprintf(sc->error, sizeof sc->error, "kernel %s: threadgroup %s thread %s: %s",
                    s.kernel, tg, th, e.what());
    }
    sc->fail_from(f);
  } catch (...) {
    std::snprintf(sc->error, sizeof sc->error, "kernel %s: unknown C++ exception", s.kernel);
    sc->fail_from(f);
  }
  sc->finish(f);
}

int Scheduler::run(State& s, const mtlh_dispatch* disp, uint32_t first, uint32_t count,
                   const char* kernel, BodyFn b, char* err, size_t errlen) {
  d = disp;
  body = b;
  st = &s;
  strict = strict_simd_sites();
  for (uint32_t linear = first; linear < first + count; ++linear) {
    begin_threadgroup(d, linear, tg_ids);
    const Dim3 size = tg_ids.threads_per_threadgroup;
    const uint32_t threads = size.x * size.y * size.z;
    if (threads == 0) continue;
    if (threads > kMaxThreads) {
      std::snprintf(err, errlen, "kernel %s: %u threads per threadgroup (at most %u)", kernel,
                    threads, kMaxThreads);
      return 1;
    }
    bool ok;
    {
      Disarm disarmed(s);
      ok = setup(threads);
    }
    if (!ok) {
      std::snprintf(err, errlen, "kernel %s: cannot allocate %u fiber stacks", kernel, threads);
      return 1;
    }
    n = threads;
    ngroups = (threads + kSimdWidth - 1) / kSimdWidth;
    done = 0;
    tg_arrived = 0;
    failed = false;
    new_threadgroup(s, group, threads);
    for (uint32_t gi = 0; gi < ngroups; ++gi) {
      SimdGroup& g = groups[gi];
      g.first = gi * kSimdWidth;
      g.lanes = std::min(kSimdWidth, threads - g.first);
      g.active = g.lanes;
      g.waiting = 0;
      g.done = 0;
      g.parity = 0;
      g.kind = kNoWait;
      g.diverged = false;
      g.site = nullptr;
      g.active_mask = g.lanes == 64 ? ~uint64_t(0) : ((uint64_t(1) << g.lanes) - 1);
    }
    qhead = 0;
    qcount = 0;
    const uint64_t fp_state = fiber_fp_state();
    uint32_t i = 0;
    ThreadIds ids = tg_ids;
    for (uint32_t z = 0; z < size.z; ++z)
      for (uint32_t y = 0; y < size.y; ++y)
        for (uint32_t x = 0; x < size.x; ++x, ++i) {
          Fiber& f = fibers[i];
          begin_thread(d, x, y, z, ids);
          f.ids = ids;
          f.index = i;
          f.simd = i / kSimdWidth;
          f.lane = i % kSimdWidth;
          fstate[i] = kRunnable;
          f.kind = kNoWait;
          f.site = nullptr;
          f.call_site = nullptr;
          f.sp = fiber_init(stack_top(i), &Scheduler::fiber_main, &f, fp_state);
          push(i);
        }
    Fiber* f0 = &fibers[pop()];
    s.fiber = f0;
    s.ids = &f0->ids;
    asan_start_switch(&main_asan_fake, fiber_stack(f0->index));
    mtlh_fiber_switch(&main_sp, f0->sp);
    asan_finish_switch(main_asan_fake);
    asan_release_stacks();
    s.fiber = nullptr;
    s.ids = nullptr;
    if (failed) {
      std::snprintf(err, errlen, "%s", error);
      return 1;
    }
  }
  return 0;
}

}  // namespace impl

using namespace impl;

namespace {

Scheduler& scheduler(State& s) {
  if (!s.sched) {
    static thread_local std::unique_ptr<Scheduler> owner;
    owner.reset(new Scheduler());
    s.sched = owner.get();
  }
  return *s.sched;
}

/// Called by a sync function outside fiber mode; returns if it may proceed as a lone lane.
void lone_thread(State& s, const char* what) {
  if (s.mode == kPlain && s.threads == 1) return;
  disarm(s);
  KernelFault k;
  Msg m(k.message, sizeof k.message);
  if (s.mode == kPlain) {
    m.add("kernel %s uses barriers/SIMD functions (%s) but was not detected as such", s.kernel,
          what);
    if (s.ids) {
      char tg[48], th[48];
      format_pos(tg, sizeof tg, s.ids->threadgroup_position_in_grid);
      format_pos(th, sizeof th, s.ids->thread_position_in_threadgroup);
      m.add(" (threadgroup %s thread %s)", tg, th);
    }
  } else {
    m.add("%s called outside a kernel dispatch", what);
  }
  throw k;
}

struct FiberRun {
  State* s;
  Scheduler* sc;
  const mtlh_dispatch* d;
  uint32_t first, count;
  const char* kernel;
  BodyFn body;
  char* error;
  size_t error_len;
};

int run_scheduler(void* arg) {
  const FiberRun& r = *static_cast<const FiberRun*>(arg);
  try {
    return r.sc->run(*r.s, r.d, r.first, r.count, r.kernel, r.body, r.error, r.error_len);
  } catch (const std::exception& e) {
    format_error(r.error, r.error_len, r.kernel, e.what());
    return 1;
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Public entry points.

bool strict_simd_sites() {
  static const bool strict = [] {
    const char* e = std::getenv("METALLIC_HOST_STRICT_SIMD_SITES");
    return e && *e && *e != '0';
  }();
  return strict;
}

Exchange simd_exchange(const void* data, size_t size, const void* site, const void* tag,
                       const char* what) {
  State& s = state();
  if (__builtin_expect(s.mode != kFibers, 0)) {
    lone_thread(s, what);
    std::memcpy(s.lone_slot, data, size);
    s.lone_cache_valid = 0;
    return Exchange{s.lone_slot, 1, 0, &s.lone_cache_valid, s.lone_cache};
  }
  Scheduler& sc = *s.sched;
  Fiber* f = s.fiber;
  SimdGroup& g = sc.groups[f->simd];
  const uint32_t p = g.parity;
  std::memcpy(g.slots[p][f->lane], data, size);
  sc.arrive(f, g, kCollective, sc.strict ? site : tag, what);
  f->call_site = site;
  sc.try_complete(g);
  sc.yield_from(f);
  return Exchange{&g.slots[p][0][0], g.result_mask[p], f->lane, &g.cache_valid[p], &g.cache[p][0]};
}

void simd_barrier(const void* site) {
  State& s = state();
  if (__builtin_expect(s.mode != kFibers, 0)) {
    lone_thread(s, "simdgroup_barrier");
    return;
  }
  Scheduler& sc = *s.sched;
  Fiber* f = s.fiber;
  SimdGroup& g = sc.groups[f->simd];
  sc.arrive(f, g, kSimdBarrier, sc.strict ? site : nullptr, "simdgroup_barrier");
  f->call_site = site;
  sc.try_complete(g);
  sc.yield_from(f);
}

void threadgroup_barrier(const void* site) {
  State& s = state();
  if (__builtin_expect(s.mode != kFibers, 0)) {
    lone_thread(s, "threadgroup_barrier");
    return;
  }
  Scheduler& sc = *s.sched;
  Fiber* f = s.fiber;
  SimdGroup& g = sc.groups[f->simd];
  sc.arrive(f, g, kTgBarrier, nullptr, "threadgroup_barrier");
  (void)site;  // threadgroup barriers at different call sites match (as on the GPU)
  if (++sc.tg_arrived == sc.n) {
    sc.tg_arrived = 0;
    for (uint32_t gi = 0; gi < sc.ngroups; ++gi) {
      SimdGroup& gg = sc.groups[gi];
      gg.waiting = 0;
      gg.kind = kNoWait;
    }
    // Every thread waits here, so the run queue is empty: refill it with all, in order.
    std::memset(sc.fstate.data(), kRunnable, sc.n);
    uint32_t* q = sc.queue.data();
    for (uint32_t i = 0; i < sc.n; ++i) q[i] = i;
    sc.qhead = 0;
    sc.qcount = sc.n;
  }
  sc.yield_from(f);
}

int run_fibers(const mtlh_dispatch* d, uint32_t first, uint32_t count, const char* kernel,
               BodyFn body, char* error, size_t error_len) {
  State& s = state();
  if (s.mode != kNone) {
    std::snprintf(error, error_len, "kernel %s: nested dispatch on one OS thread", kernel);
    return 1;
  }
  Scheduler& sc = scheduler(s);
  s.mode = kFibers;
  s.d = d;
  s.kernel = kernel;
  ++s.const_gen;
  FiberRun run{&s, &sc, d, first, count, kernel, body, error, error_len};
  const int rc = run_guarded(d, kernel, &run_scheduler, &run, error, error_len);
  leave_kernel(s);
  return rc;
}

}  // namespace metal_host::rt
