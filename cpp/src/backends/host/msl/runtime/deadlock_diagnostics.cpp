// Why a threadgroup cannot make progress: when no fiber is runnable but some have not returned,
// the scheduler names the threads and the sync points they wait at (a divergent SIMD group, a
// simdgroup_barrier or threadgroup_barrier that returned threads never reach).
#include <algorithm>
#include <vector>

#include "fiber_scheduler.h"
#include "message.h"

namespace metal_host::rt::impl {

void Scheduler::list_threads(Msg& m, const std::vector<uint32_t>& idx) {
  const size_t shown = std::min<size_t>(idx.size(), 8);
  for (size_t k = 0; k < shown; ++k) {
    char p[48];
    format_pos(p, sizeof p, fibers[idx[k]].ids.thread_position_in_threadgroup);
    m.add("%s%s", k ? ", " : "", p);
  }
  if (idx.size() > shown) m.add(" and %zu more", idx.size() - shown);
}

const char* Scheduler::kind_name(const Fiber& f) {
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

void Scheduler::diagnose() {
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

}  // namespace metal_host::rt::impl
