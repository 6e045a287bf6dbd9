// The process-wide signal handler that turns hardware faults in kernel code (SIGSEGV, SIGBUS,
// SIGFPE, SIGILL: a wild pointer, integer division by zero, a fiber stack overflow, a trap)
// into errors instead of killing the process.
//
// One handler per process. Every kernel library links its own copy of this runtime, but only
// one copy's fault_slot() is ever used: the host device (the Python module, never unloaded)
// puts its own in mtlh_dispatch::fault_slot, and every library, built in or dlopen'd, registers
// through it. So the handler is installed once, and a library that is dlclose'd can never leave
// a dangling handler behind; the copies in dlopen'd libraries stay dormant.
//
// Installed on the first fault_slot() call (the first host dispatch), on top of whatever the
// process had (Python's faulthandler, a debugger's helper, nothing). For a signal the CPU raised
// (si_code > 0) on a thread whose slot holds a target (kernel code is running on it), the
// handler calls target->recover, which siglongjmps back into the library's run function
// (rt::run_guarded); everything else goes to the previous disposition as if we were not there:
// a previous handler is called with the signal mask the kernel would have given it, and
// SIG_DFL/SIG_IGN is reinstated so that the faulting instruction faults again with it (a signal
// sent by kill() is raised again). METALLIC_HOST_CATCH_FAULTS=0 turns all of this off (e.g. to
// get a core dump of a faulting kernel).
//
// Each thread that runs kernels gets an alternate signal stack (unless it has one), so that a
// stack overflow (a fiber running into its guard page) can be handled at all.
//
// The same handler stops kernels on request (the host device's watchdog, an abandoned context):
// request_stop() sends SIGURG to a thread; while any stop is requested, a SIGURG that lands in
// kernel code recovers as a fault would. Elsewhere (no kernel code running, or the runtime
// allocating) it is ignored and the requester sends it again. SIGURG because its default action
// is to ignore it, so a stray one harms nothing.
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <new>

#include "metal/runtime/exec.h"

namespace metal_host::rt {
namespace {

constexpr int kSignals[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL};
constexpr int kNumSignals = sizeof kSignals / sizeof kSignals[0];
constexpr int kStopSignal = SIGURG;

struct sigaction g_previous[kNumSignals];
struct sigaction g_previous_stop;
pthread_key_t g_key;
bool g_installed = false;
std::atomic<int> g_stop_requests{0};  // request_stop calls in progress

/// Per OS thread (reached through a pthread key: reading it in a signal handler never allocates,
/// unlike dynamic TLS of a dlopen'd module).
struct Slot {
  mtlh_fault_target* volatile target = nullptr;
  void* altstack = nullptr;  // ours, or null if the thread had one already
  size_t altstack_bytes = 0;
};

void* context_pc(void* uc) {
#if defined(__linux__) && defined(__x86_64__)
  return reinterpret_cast<void*>(static_cast<ucontext_t*>(uc)->uc_mcontext.gregs[REG_RIP]);
#elif defined(__linux__) && defined(__aarch64__)
  return reinterpret_cast<void*>(static_cast<ucontext_t*>(uc)->uc_mcontext.pc);
#else
  (void)uc;
  return nullptr;
#endif
}

void* context_sp(void* uc) {
#if defined(__linux__) && defined(__x86_64__)
  return reinterpret_cast<void*>(static_cast<ucontext_t*>(uc)->uc_mcontext.gregs[REG_RSP]);
#elif defined(__linux__) && defined(__aarch64__)
  return reinterpret_cast<void*>(static_cast<ucontext_t*>(uc)->uc_mcontext.sp);
#else
  (void)uc;
  return nullptr;
#endif
}

/// Delivers the signal to the disposition that was installed before ours.
void chain(int index, int sig, siginfo_t* info, void* uc) {
  const struct sigaction& prev = g_previous[index];
  const bool dfl = !(prev.sa_flags & SA_SIGINFO) && prev.sa_handler == SIG_DFL;
  const bool ign = !(prev.sa_flags & SA_SIGINFO) && prev.sa_handler == SIG_IGN;
  if (dfl || ign) {
    // Reinstate it: a fault the CPU raised happens again when we return, now with the default
    // action (terminate, core dump) as if we had never been installed; kill() is raised again.
    sigaction(sig, &prev, nullptr);
    if (dfl && (info == nullptr || info->si_code <= 0)) raise(sig);
    return;
  }
  // The mask the kernel would have set for the previous handler.
  sigset_t mask;
  if (uc)
    mask = static_cast<ucontext_t*>(uc)->uc_sigmask;
  else
    pthread_sigmask(SIG_SETMASK, nullptr, &mask);
  for (int s = 1; s < NSIG; ++s)
    if (sigismember(&prev.sa_mask, s) == 1) sigaddset(&mask, s);
  if (!(prev.sa_flags & SA_NODEFER)) sigaddset(&mask, sig);
  pthread_sigmask(SIG_SETMASK, &mask, nullptr);
  if (prev.sa_flags & SA_RESETHAND) {
    struct sigaction dflt;
    std::memset(&dflt, 0, sizeof dflt);
    dflt.sa_handler = SIG_DFL;
    sigaction(sig, &dflt, nullptr);
  }
  if (prev.sa_flags & SA_SIGINFO)
    prev.sa_sigaction(sig, info, uc);
  else
    prev.sa_handler(sig);
}

void handler(int sig, siginfo_t* info, void* uc) {
  const int saved_errno = errno;
  int index = 0;
  while (index < kNumSignals - 1 && kSignals[index] != sig) ++index;
  if (info != nullptr && info->si_code > 0) {  // raised by the CPU, not sent by kill()
    Slot* slot = static_cast<Slot*>(pthread_getspecific(g_key));
    mtlh_fault_target* target = slot ? slot->target : nullptr;
    if (target != nullptr) {
      slot->target = nullptr;  // a fault while recovering goes to the previous disposition
      mtlh_fault_info fi;
      fi.signo = sig;
      fi.code = info->si_code;
      fi.addr = info->si_addr;
      fi.pc = context_pc(uc);
      fi.sp = context_sp(uc);
      target->recover(target, &fi);  // does not return
    }
  }
  chain(index, sig, info, uc);
  errno = saved_errno;
}

void stop_handler(int sig, siginfo_t* info, void* uc) {
  const int saved_errno = errno;
  if (g_stop_requests.load(std::memory_order_acquire) > 0) {
    Slot* slot = static_cast<Slot*>(pthread_getspecific(g_key));
    mtlh_fault_target* target = slot ? slot->target : nullptr;
    if (target != nullptr) {
      slot->target = nullptr;
      mtlh_fault_info fi;
      fi.signo = sig;
      fi.code = info ? info->si_code : 0;
      fi.addr = nullptr;
      fi.pc = context_pc(uc);
      fi.sp = context_sp(uc);
      target->recover(target, &fi);  // does not return
    }
    errno = saved_errno;
    return;  // not in kernel code: the requester sends it again
  }
  const struct sigaction& prev = g_previous_stop;
  if (prev.sa_flags & SA_SIGINFO) {
    prev.sa_sigaction(sig, info, uc);
  } else if (prev.sa_handler != SIG_DFL && prev.sa_handler != SIG_IGN) {
    prev.sa_handler(sig);
  }  // SIGURG's default action is to ignore it
  errno = saved_errno;
}

void destroy_slot(void* p) {
  Slot* slot = static_cast<Slot*>(p);
  if (slot->altstack) {
    stack_t current;
    if (sigaltstack(nullptr, &current) == 0 && current.ss_sp == slot->altstack &&
        !(current.ss_flags & SS_ONSTACK)) {
      stack_t off;
      std::memset(&off, 0, sizeof off);
      off.ss_flags = SS_DISABLE;
      sigaltstack(&off, nullptr);
      munmap(slot->altstack, slot->altstack_bytes);
    }  // else someone replaced it (or we run on it): leak it rather than free it under them
  }
  delete slot;
}

bool install() {
  if (const char* env = std::getenv("METALLIC_HOST_CATCH_FAULTS")) {
    if (env[0] == '0' && env[1] == 0) return false;
  }
  if (pthread_key_create(&g_key, &destroy_slot) != 0) return false;
  for (int i = 0; i < kNumSignals; ++i) {
    struct sigaction act;
    std::memset(&act, 0, sizeof act);
    act.sa_sigaction = &handler;
    act.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&act.sa_mask);
    if (sigaction(kSignals[i], nullptr, &g_previous[i]) == 0) sigaction(kSignals[i], &act, nullptr);
  }
  struct sigaction stop;
  std::memset(&stop, 0, sizeof stop);
  stop.sa_sigaction = &stop_handler;
  stop.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
  sigemptyset(&stop.sa_mask);
  if (sigaction(kStopSignal, nullptr, &g_previous_stop) == 0)
    sigaction(kStopSignal, &stop, nullptr);
  g_installed = true;
  return true;
}

Slot* new_slot() {
  Slot* slot = new (std::nothrow) Slot();
  if (slot == nullptr) return nullptr;
  stack_t current;
  if (sigaltstack(nullptr, &current) == 0 && (current.ss_flags & SS_DISABLE)) {
    size_t bytes = 64 * 1024;
#ifdef _SC_SIGSTKSZ
    const long min = sysconf(_SC_SIGSTKSZ);
    if (min > 0 && size_t(min) * 4 > bytes) bytes = size_t(min) * 4;
#endif
    void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p != MAP_FAILED) {
      stack_t ss;
      std::memset(&ss, 0, sizeof ss);
      ss.ss_sp = p;
      ss.ss_size = bytes;
      if (sigaltstack(&ss, nullptr) == 0) {
        slot->altstack = p;
        slot->altstack_bytes = bytes;
      } else {
        munmap(p, bytes);
      }
    }
  }
  if (pthread_setspecific(g_key, slot) != 0) {
    destroy_slot(slot);
    return nullptr;
  }
  return slot;
}

}  // namespace

bool request_stop(const pthread_t* threads, size_t count) {
  if (!g_installed) return false;
  g_stop_requests.fetch_add(1, std::memory_order_acq_rel);
  for (size_t i = 0; i < count; ++i) pthread_kill(threads[i], kStopSignal);
  // Give the signals time to land before the handler stops recognising them (a thread only
  // takes a pending signal when it next runs).
  struct timespec pause = {0, 2 * 1000 * 1000};
  nanosleep(&pause, nullptr);
  g_stop_requests.fetch_sub(1, std::memory_order_acq_rel);
  return true;
}

bool is_stop_signal(int signo) {
  return signo == kStopSignal;
}

mtlh_fault_target* volatile* fault_slot() {
  static const bool installed = install();
  if (!installed) return nullptr;
  Slot* slot = static_cast<Slot*>(pthread_getspecific(g_key));
  if (__builtin_expect(slot == nullptr, 0)) slot = new_slot();
  return slot ? &slot->target : nullptr;
}

}  // namespace metal_host::rt
