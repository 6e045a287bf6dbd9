// run_guarded: runs kernel code with this OS thread's fault slot armed, so that a hardware fault
// in it (the signal handler is in fault.cpp) jumps back here and becomes an error message that
// names the kernel, the thread and the likely cause.
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdint>

#include "fiber_scheduler.h"
#include "fiber_stacks.h"
#include "message.h"
#include "thread_state.h"

namespace metal_host::rt {

using namespace impl;

namespace {

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
      if (is_stop_signal(f.signo)) {
        m.add("stopped by the host device before it finished");
        return;
      }
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
  // Host buffers end at a guard region (as large as the buffer, from a page to 16 MiB): name the
  // binding whose end the access ran past.
  const uintptr_t page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  for (uint32_t i = 0; s.d && !checks && i < s.d->num_buffers; ++i) {
    const uintptr_t base = reinterpret_cast<uintptr_t>(s.d->buffers[i]);
    if (base == 0 || (s.d->inline_bytes_mask >> i & 1u)) continue;
    const uintptr_t end = base + s.d->buffer_lengths[i];
    const uintptr_t guard = std::max<uintptr_t>(page, std::min<uintptr_t>(end - base, 16u << 20));
    if (addr >= end && addr - end < guard) {
      m.add(
          "access %llu bytes past the end of the buffer bound at [[buffer(%u)]] (%llu bytes from "
          "the binding's offset to the end of its buffer) \xe2\x80\x94 rerun with "
          "METALLIC_HOST_CHECKS=1 (mt.Context(host_checks=True)) to find the index",
          (unsigned long long)(addr - end), i, (unsigned long long)s.d->buffer_lengths[i]);
      return;
    }
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
    if (s.mode == kFibers && s.sched) s.sched->asan_recovered_from_fault();
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, frame.info.signo);
    pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
    describe_fault(s, frame.info, kernel, error, error_len);
    leave_kernel(s);  // what PlainScope's destructor / run_fibers would have done
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

}  // namespace metal_host::rt
