// The host execution model: per-OS-thread state, threadgroup memory, function constants, and
// the fiber scheduler that runs the threads of one threadgroup round-robin on the calling OS
// thread, switching at barriers and SIMD-group collectives; and run_guarded, which turns a
// hardware fault in kernel code into an error (the signal handler itself is in fault.cpp).
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <limits>
#include <memory>
#include <new>
#include <vector>

#include "metal/runtime/exec.h"
#include "metal/runtime/launch.h"

namespace metal_host::rt {
namespace {

enum Mode : uint32_t { kNone = 0, kPlain = 1, kFibers = 2 };
enum FiberState : uint8_t { kRunnable = 0, kWaiting = 1, kDone = 2 };
enum WaitKind : uint8_t { kNoWait = 0, kCollective = 1, kSimdBarrier = 2, kTgBarrier = 3 };

constexpr uint32_t kMaxThreads = 1024;
constexpr uint32_t kNoFiber = 0xFFFFFFFFu;
constexpr uint32_t kConstTable = 1024;  // function constants with index < this use a table

// ---------------------------------------------------------------------------------------------
// Threadgroup memory: a per-OS-thread bump arena reset at every threadgroup.

struct Arena {
  std::vector<std::unique_ptr<unsigned char[]>> chunks;
  std::vector<size_t> sizes;
  size_t used = 0;   // in the last chunk
  size_t total = 0;  // bytes requested in this threadgroup

  void reset() {
    if (chunks.size() > 1) {  // consolidate so the next threadgroup fits into one chunk
      size_t want = 1;
      while (want < total + 4096) want <<= 1;
      chunks.clear();
      sizes.clear();
      add_chunk(want);
    }
    used = 0;
    total = 0;
  }
  void add_chunk(size_t bytes) {
    chunks.emplace_back(new unsigned char[bytes]);
    sizes.push_back(bytes);
    used = 0;
  }
  void* alloc(size_t size, size_t align) {
    if (align < 16) align = 16;
    total += size + align;
    if (chunks.empty()) add_chunk(std::max<size_t>(64 * 1024, size + align));
    uintptr_t base = reinterpret_cast<uintptr_t>(chunks.back().get());
    uintptr_t p = (base + used + align - 1) & ~(uintptr_t(align) - 1);
    if (p + size > base + sizes.back()) {
      add_chunk(std::max<size_t>(sizes.back() * 2, size + align));
      base = reinterpret_cast<uintptr_t>(chunks.back().get());
      p = (base + align - 1) & ~(uintptr_t(align) - 1);
    }
    used = p + size - base;
    std::memset(reinterpret_cast<void*>(p), 0xCD, size);
    return reinterpret_cast<void*>(p);
  }
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

// ---------------------------------------------------------------------------------------------
// Fibers.

struct Fiber {
  void* sp = nullptr;
  void* stack_top = nullptr;
  ThreadIds ids{};
  uint32_t index = 0, simd = 0, lane = 0;
  uint8_t kind = kNoWait;           // meaningful while waiting (state in Scheduler::fstate)
  const void* site = nullptr;       // what identifies the sync point (tag or call site)
  const void* call_site = nullptr;  // return address into the kernel (for messages)
  const char* what = nullptr;
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

/// Stacks of this OS thread, mmap'd with a guard page below each, reused across threadgroups.
struct StackPool {
  struct Stack {
    void* base;
    size_t bytes;
  };
  std::vector<Stack> stacks;

  ~StackPool() {
    for (const Stack& s : stacks) munmap(s.base, s.bytes);
  }
  bool ensure(uint32_t n) {
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
  void* top(uint32_t i) const { return static_cast<char*>(stacks[i].base) + stacks[i].bytes; }
  /// True if a fault at `addr` with stack pointer `sp` is fiber i overflowing its stack: the
  /// address is in its guard region, or the stack pointer went below its usable part.
  bool overflowed(uint32_t i, uintptr_t addr, uintptr_t sp) const {
    if (i >= stacks.size()) return false;
    const uintptr_t base = reinterpret_cast<uintptr_t>(stacks[i].base);
    const uintptr_t usable = base + guard_size();
    if (addr >= base && addr < usable) return true;
    return sp != 0 && sp < usable && base - std::min(base, sp) < (uintptr_t(64) << 20);
  }
};

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

thread_local State* t_state = nullptr;

State& state() {
  State* s = t_state;
  if (__builtin_expect(s == nullptr, 0)) {
    static thread_local std::unique_ptr<State> owner;
    owner.reset(new State());
    s = t_state = owner.get();
  }
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
void disarm(State& s) {
  if (s.fault_slot) *s.fault_slot = nullptr;
  std::atomic_signal_fence(std::memory_order_seq_cst);
}

void new_threadgroup(State& s, ThreadgroupState& group, uint32_t threads) {
  Disarm disarmed(s);
  s.threads = threads;
  ++s.epoch;
  s.arena.reset();
  const mtlh_dispatch* d = s.d;
  const uint32_t n = std::min<uint32_t>(d->num_threadgroup, kMaxBufferBindings);
  for (uint32_t i = 0; i < n; ++i) {
    const uint64_t len = d->threadgroup_lengths ? d->threadgroup_lengths[i] : 0;
    group.threadgroup_buffers[i] = len ? s.arena.alloc(size_t(len), 16) : nullptr;
  }
}

bool lookup_constant(const mtlh_dispatch* d, uint32_t index, ConstEntry& out);

void format_pos(char* buf, size_t n, Dim3 p) {
  std::snprintf(buf, n, "(%u,%u,%u)", p.x, p.y, p.z);
}

/// Appends printf output to a bounded buffer.
struct Msg {
  char* buf;
  size_t cap;
  size_t len = 0;
  Msg(char* b, size_t c) : buf(b), cap(c) {
    if (cap) buf[0] = 0;
  }
  void add(const char* fmt, ...) __attribute__((format(printf, 2, 3))) {
    if (len + 1 >= cap) return;
    va_list ap;
    va_start(ap, fmt);
    int w = std::vsnprintf(buf + len, cap - len, fmt, ap);
    va_end(ap);
    if (w > 0) len = std::min(cap - 1, len + size_t(w));
  }
};

// ---------------------------------------------------------------------------------------------
// The scheduler of one OS thread.

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

  /// Switches away from `self` (which must not be runnable unless queued) to the next
  /// runnable fiber; returns when `self` is resumed. Never returns on a fault.
  void yield_from(Fiber* self) {
    const uint32_t next = pop();
    if (__builtin_expect(next == kNoFiber, 0)) {
      diagnose();
      mtlh_fiber_switch(&self->sp, main_sp);
      __builtin_unreachable();
    }
    Fiber* nf = &fibers[next];
    if (nf == self) return;
    st->fiber = nf;
    st->ids = &nf->ids;
    mtlh_fiber_switch_fast(&self->sp, nf->sp);
  }

  [[noreturn]] void fail_from(Fiber* self) {
    failed = true;
    mtlh_fiber_switch(&self->sp, main_sp);
    __builtin_unreachable();
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
    if (done == n) {
      mtlh_fiber_switch(&f->sp, main_sp);
      __builtin_unreachable();
    }
    yield_from(f);  // a finished fiber is never queued again
    __builtin_unreachable();
  }

  void list_threads(Msg& m, const std::vector<uint32_t>& idx) {
    const size_t shown = std::min<size_t>(idx.size(), 8);
    for (size_t k = 0; k < shown; ++k) {
      char p[48];
      format_pos(p, sizeof p, fibers[idx[k]].ids.thread_position_in_threadgroup);
      m.add("%s%s", k ? ", " : "", p);
    }
    if (idx.size() > shown) m.add(" and %zu more", idx.size() - shown);
  }

  static const char* kind_name(const Fiber& f) {
    switch (f.kind) {
      case kTgBarrier:
        return "threadgroup_barrier";
      case kSimdBarrier:
        return "simdgroup_barrier";
      case kCollective:
        return f.what ? f.what : "a SIMD-group function";
      default:
        return "?";
    }
  }

  /// No fiber can run but some have not returned: explain why (names the threads).
  void diagnose() {
    failed = true;
    Msg m(error, sizeof error);
    char tg[48];
    format_pos(tg, sizeof tg, tg_ids.threadgroup_position_in_grid);
    m.add("kernel %s: threadgroup %s: ", st->kernel, tg);
    // 1. Lanes of one SIMD group at different sync points.
    for (uint32_t gi = 0; gi < ngroups; ++gi) {
      SimdGroup& g = groups[gi];
      if (!g.diverged) continue;
      m.add("divergent SIMD group %u: lanes wait at different barriers/collectives:", gi);
      std::vector<bool> seen(g.lanes, false);
      const char* sep = "";
      for (uint32_t l = 0; l < g.lanes; ++l) {
        const Fiber& f = fibers[g.first + l];
        if (seen[l] || fstate[g.first + l] != kWaiting) continue;
        std::vector<uint32_t> same;
        for (uint32_t k = l; k < g.lanes; ++k) {
          const Fiber& o = fibers[g.first + k];
          if (!seen[k] && fstate[g.first + k] == kWaiting && o.kind == f.kind &&
              (f.kind == kTgBarrier || o.site == f.site)) {
            seen[k] = true;
            same.push_back(g.first + k);
          }
        }
        m.add("%s thread(s) ", sep);
        list_threads(m, same);
        m.add(" at %s", kind_name(f));
        if (f.call_site) m.add(" (call site %p)", f.call_site);
        sep = ";";
      }
      std::vector<uint32_t> gone;
      for (uint32_t l = 0; l < g.lanes; ++l)
        if (fstate[g.first + l] == kDone) gone.push_back(g.first + l);
      if (!gone.empty()) {
        m.add("; returned: ");
        list_threads(m, gone);
      }
      return;
    }
    // 2. A simdgroup_barrier that lanes which returned never reach.
    for (uint32_t gi = 0; gi < ngroups; ++gi) {
      SimdGroup& g = groups[gi];
      if (g.waiting == 0 || g.kind != kSimdBarrier) continue;
      std::vector<uint32_t> gone;
      for (uint32_t l = 0; l < g.lanes; ++l)
        if (fstate[g.first + l] == kDone) gone.push_back(g.first + l);
      m.add("simdgroup_barrier of SIMD group %u never completes: thread(s) ", gi);
      list_threads(m, gone);
      m.add(" returned without reaching it (%u lane(s) wait)", g.waiting);
      return;
    }
    // 3. A threadgroup_barrier that some threads never reach.
    if (tg_arrived > 0) {
      std::vector<uint32_t> gone, elsewhere;
      for (uint32_t i = 0; i < n; ++i) {
        if (fstate[i] == kDone)
          gone.push_back(i);
        else if (fibers[i].kind != kTgBarrier)
          elsewhere.push_back(i);
      }
      std::vector<uint32_t> at;
      for (uint32_t i = 0; i < n; ++i)
        if (fstate[i] == kWaiting && fibers[i].kind == kTgBarrier) at.push_back(i);
      m.add("threadgroup_barrier deadlock: %u of %u threads wait at the barrier (", tg_arrived, n);
      list_threads(m, at);
      m.add(");");
      if (!gone.empty()) {
        m.add(" thread(s) ");
        list_threads(m, gone);
        m.add(" returned without reaching it");
      }
      if (!elsewhere.empty()) {
        m.add("; thread(s) ");
        list_threads(m, elsewhere);
        m.add(" wait elsewhere (%s)", kind_name(fibers[elsewhere[0]]));
      }
      return;
    }
    // 4. Anything else (should not happen).
    std::vector<uint32_t> waiting;
    for (uint32_t i = 0; i < n; ++i)
      if (fstate[i] == kWaiting) waiting.push_back(i);
    m.add("deadlock: no thread can make progress; waiting thread(s) ");
    list_threads(m, waiting);
  }

  int run(State& s, const mtlh_dispatch* disp, uint32_t first, uint32_t count, const char* kernel,
          BodyFn b, char* err, size_t errlen);
};

void Scheduler::fiber_main(void* arg) {
  Fiber* f = static_cast<Fiber*>(arg);
  State& s = *t_state;
  Scheduler* sc = s.sched;
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
    mtlh_fiber_switch(&main_sp, f0->sp);
    s.fiber = nullptr;
    s.ids = nullptr;
    if (failed) {
      std::snprintf(err, errlen, "%s", error);
      return 1;
    }
  }
  return 0;
}

Scheduler& scheduler(State& s) {
  if (!s.sched) {
    static thread_local std::unique_ptr<Scheduler> owner;
    owner.reset(new Scheduler());
    s.sched = owner.get();
  }
  return *s.sched;
}

bool lookup_constant(const mtlh_dispatch* d, uint32_t index, ConstEntry& out) {
  for (uint32_t k = 0; k < d->num_constants; ++k) {
    const mtlh_constant& c = d->constants[k];
    if (c.index != index) continue;
    const uint64_t b = c.bits;
    switch (c.type) {
      case 0:  // Bool
        out.i = (b & 0xFF) != 0;
        out.f = double(out.i);
        break;
      case 1:  // Int
        out.i = int32_t(uint32_t(b));
        out.f = double(out.i);
        break;
      case 2:  // UInt
        out.i = int64_t(uint32_t(b));
        out.f = double(out.i);
        break;
      case 3:  // Short
        out.i = int16_t(uint16_t(b));
        out.f = double(out.i);
        break;
      case 4:  // UShort
        out.i = int64_t(uint16_t(b));
        out.f = double(out.i);
        break;
      case 5: {  // Float
        float v;
        const uint32_t u = uint32_t(b);
        std::memcpy(&v, &u, 4);
        out.f = v;
        out.i = int64_t(v);
        break;
      }
      case 6: {  // Half
        const uint32_t h = uint32_t(b & 0xFFFF);
        const uint32_t sign = (h >> 15) & 1, e = (h >> 10) & 0x1F, m = h & 0x3FF;
        double v;
        if (e == 0)
          v = std::ldexp(double(m), -24);
        else if (e == 31)
          v = m ? std::numeric_limits<double>::quiet_NaN()
                : std::numeric_limits<double>::infinity();
        else
          v = std::ldexp(double(m | 0x400), int(e) - 25);
        out.f = sign ? -v : v;
        out.i = int64_t(out.f);
        break;
      }
      default:
        out.i = int64_t(b);
        out.f = double(out.i);
    }
    out.defined = true;
    return true;
  }
  out.i = 0;
  out.f = 0;
  out.defined = false;
  return false;
}

const ConstEntry& constant(uint32_t index, ConstEntry& tmp) {
  State& s = state();
  const mtlh_dispatch* d = s.d;
  if (d == nullptr) fault("function constant used outside a dispatch");
  if (index < kConstTable) {
    ConstEntry& e = s.consts[index];
    if (e.gen != s.const_gen) {
      lookup_constant(d, index, e);
      e.gen = s.const_gen;
    }
    return e;
  }
  lookup_constant(d, index, tmp);
  return tmp;
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

uint32_t current_lane() {
  const ThreadIds* ids = state().ids;
  return ids ? ids->thread_index_in_simdgroup : 0;
}

const ThreadIds* current_thread() {
  return state().ids;
}
const mtlh_dispatch* current_dispatch() {
  return state().d;
}
const char* current_kernel() {
  return state().kernel;
}

void fault(const char* message) {
  State& s = state();
  disarm(s);
  KernelFault k;
  Msg m(k.message, sizeof k.message);
  if (s.kernel) m.add("kernel %s: ", s.kernel);
  if (s.ids) {
    char tg[48], th[48];
    format_pos(tg, sizeof tg, s.ids->threadgroup_position_in_grid);
    format_pos(th, sizeof th, s.ids->thread_position_in_threadgroup);
    m.add("threadgroup %s thread %s: ", tg, th);
  }
  m.add("%s", message);
  throw k;
}

void* threadgroup_variable(uint32_t id, size_t size, size_t align) {
  State& s = state();
  if (__builtin_expect(s.mode == kNone, 0)) fault("threadgroup variable used outside a kernel");
  if (id >= s.vars.size()) {
    Disarm disarmed(s);
    s.vars.resize(size_t(id) + 1);
  }
  TgVar& v = s.vars[id];
  // A declaration in a template has one id for all its instantiations: a larger instantiation
  // (threadgroup T buf[N] with a bigger T or N) gets its own, larger storage.
  if (v.epoch != s.epoch || __builtin_expect(v.size < size, 0)) {
    Disarm disarmed(s);
    v.ptr = s.arena.alloc(size, align);
    v.size = size;
    v.epoch = s.epoch;
  }
  return v.ptr;
}

int64_t function_constant_int(uint32_t index) {
  ConstEntry tmp;
  return constant(index, tmp).i;
}
double function_constant_float(uint32_t index) {
  ConstEntry tmp;
  return constant(index, tmp).f;
}
bool function_constant_defined(uint32_t index) {
  ConstEntry tmp;
  return constant(index, tmp).defined;
}

PlainScope::PlainScope(const mtlh_dispatch* d, const char* kernel, const ThreadIds* ids) {
  State& s = state();
  saved[0] = const_cast<mtlh_dispatch*>(s.d);
  saved[1] = const_cast<char*>(s.kernel);
  s.mode = kPlain;
  s.d = d;
  s.kernel = kernel;
  s.ids = ids;
  ++s.const_gen;
}

PlainScope::~PlainScope() {
  State& s = *t_state;
  s.mode = kNone;
  s.d = static_cast<const mtlh_dispatch*>(saved[0]);
  s.kernel = static_cast<const char*>(saved[1]);
  s.ids = nullptr;
  ++s.const_gen;
}

void plain_begin_threadgroup(ThreadgroupState& group, uint32_t threads, uint32_t linear) {
  State& s = *t_state;
  s.tg_linear = linear;
  new_threadgroup(s, group, threads);
}

namespace {

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

/// Where the fault handler jumps back to (run_guarded's frame, on the OS thread's own stack: a
/// fault on a fiber stack abandons the fibers of that threadgroup, whose stacks are reused).
struct FaultFrame {
  mtlh_fault_target target;  // first: the handler passes &target
  sigjmp_buf jump;
  mtlh_fault_info info;
};

void recover(mtlh_fault_target* self, const mtlh_fault_info* info) {
  FaultFrame* frame = reinterpret_cast<FaultFrame*>(self);
  frame->info = *info;
  siglongjmp(frame->jump, 1);
}

/// "kernel K: threadgroup (..) thread (..): <what happened>" for a fault caught by run_guarded.
void describe_fault(const State& s, const mtlh_fault_info& f, const char* kernel, char* error,
                    size_t error_len) {
  Msg m(error, error_len);
  m.add("kernel %s: ", kernel);
  const ThreadIds* ids = s.mode == kFibers && s.fiber ? &s.fiber->ids : s.ids;
  char tg[48], th[48];
  if (ids) {
    format_pos(tg, sizeof tg, ids->threadgroup_position_in_grid);
    format_pos(th, sizeof th, ids->thread_position_in_threadgroup);
    m.add("threadgroup %s thread %s: ", tg, th);
  } else if (s.mode == kPlain && s.d) {
    const uint32_t gx = s.d->threadgroups_per_grid[0], gy = s.d->threadgroups_per_grid[1];
    const uint32_t l = s.tg_linear;
    format_pos(tg, sizeof tg, Dim3{l % gx, (l / gx) % gy, l / (gx * gy)});
    m.add("threadgroup %s: ", tg);
  }
  const uintptr_t addr = reinterpret_cast<uintptr_t>(f.addr);
  const uintptr_t sp = reinterpret_cast<uintptr_t>(f.sp);
  const bool checks = s.d && s.d->checks;
  switch (f.signo) {
    case SIGFPE:
      if (f.code == FPE_INTDIV || f.code == FPE_INTOVF)
        m.add(
            "integer division by zero (or INT_MIN / -1): the GPU returns an unspecified value, "
            "the CPU traps");
      else
        m.add("floating-point exception (SIGFPE code %d) at %p", f.code, f.addr);
      return;
    case SIGILL:
      m.add(
          "illegal instruction at %p (a trap: __builtin_trap, or undefined behaviour the "
          "compiler turned into one)",
          f.addr);
      return;
    case SIGSEGV:
    case SIGBUS:
      break;
    default:
      m.add("signal %d (code %d) at %p", f.signo, f.code, f.addr);
      return;
  }
  if (s.mode == kFibers && s.fiber && s.sched &&
      s.sched->stacks.overflowed(s.fiber->index, addr, sp)) {
    m.add(
        "stack overflow (the fiber stack of a thread is %zu KiB: deep recursion or large "
        "local arrays); raise METALLIC_HOST_FIBER_STACK",
        fiber_stack_size() / 1024);
    return;
  }
  if (s.mode == kPlain && sp != 0 && addr <= sp + 4096 && addr + (uintptr_t(1) << 20) >= sp) {
    m.add("stack overflow of the worker thread (deep recursion or large local arrays)");
    return;
  }
#ifdef SI_KERNEL
  if (f.signo == SIGSEGV && f.code == SI_KERNEL && addr == 0)  // x86-64 general protection
    m.add("invalid memory access (a non-canonical address)");
  else
#endif
    m.add("invalid memory access at %p", f.addr);
  if (checks)
    m.add(
        " (not through a checked device/threadgroup access: e.g. a pointer made from an "
        "integer)");
  else
    m.add(
        " \xe2\x80\x94 rerun with METALLIC_HOST_CHECKS=1 (mt.Context(host_checks=True)) to find "
        "the buffer and index");
}

}  // namespace

int run_guarded(const mtlh_dispatch* d, const char* kernel, int (*fn)(void*), void* arg,
                char* error, size_t error_len) {
  mtlh_fault_target* volatile* const slot = d->fault_slot ? d->fault_slot() : nullptr;
  if (slot == nullptr) return fn(arg);
  State& s = state();
  FaultFrame frame;
  frame.target.recover = &recover;
  if (sigsetjmp(frame.jump, 0) != 0) {
    // Back from the signal handler: the signal is still blocked (the mask was not saved, which
    // keeps sigsetjmp free of system calls); it was not blocked before (or it would have killed
    // the process), so unblock it.
    *slot = nullptr;
    s.fault_slot = nullptr;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, frame.info.signo);
    pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
    describe_fault(s, frame.info, kernel, error, error_len);
    // What PlainScope's destructor / run_fibers would have reset.
    s.mode = kNone;
    s.d = nullptr;
    s.kernel = nullptr;
    s.ids = nullptr;
    s.fiber = nullptr;
    ++s.const_gen;
    return 1;
  }
  s.fault_slot = slot;
  *slot = &frame.target;
  std::atomic_signal_fence(std::memory_order_seq_cst);
  const int rc = fn(arg);
  std::atomic_signal_fence(std::memory_order_seq_cst);
  *slot = nullptr;
  s.fault_slot = nullptr;
  return rc;
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
  s.mode = kNone;
  s.d = nullptr;
  s.kernel = nullptr;
  s.ids = nullptr;
  s.fiber = nullptr;
  ++s.const_gen;
  return rc;
}

}  // namespace metal_host::rt
