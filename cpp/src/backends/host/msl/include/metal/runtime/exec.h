// The execution-model entry points of the host runtime (static library metallic_msl_runtime).
// Translated kernels reach these through launch.h and runtime_stdlib.h; nothing here is
// called by kernel source directly. All state is per OS thread (thread_local inside the
// library); each translated library links its own copy (hidden visibility), so a library
// compiled at run time and dlopen'd does not depend on symbols of the Python module.
#pragma once

#include <pthread.h>

#include <cstddef>
#include <cstdint>

#include "metallic_host_abi.h"

#if defined(__GNUC__)
#define MTLH_NOINLINE __attribute__((noinline))
#define MTLH_CONST_FN __attribute__((const))
#define MTLH_NORETURN __attribute__((noreturn))
#else
#define MTLH_NOINLINE
#define MTLH_CONST_FN
#define MTLH_NORETURN
#endif

namespace metal_host {

struct ThreadIds;
struct ThreadgroupState;
using BodyFn = void (*)(const mtlh_dispatch*, const ThreadIds&, ThreadgroupState&);

namespace rt {

/// Bytes one lane may deposit in a SIMD-group exchange.
constexpr size_t kSlotBytes = 64;

/// What a lane sees after a SIMD-group exchange completed: every lane's deposit (lane i at
/// slots + i * kSlotBytes; only lanes set in `active` deposited) and its own lane index.
struct Exchange {
  const unsigned char* slots;
  uint64_t active;  // lanes of the SIMD group that had not returned when the exchange completed
  uint32_t lane;    // the caller's thread_index_in_simdgroup
  /// Scratch shared by the lanes of this exchange, for results that are the same for every
  /// lane (a reduction, the 8x8 product): the first lane to read computes and sets *cache_valid.
  uint32_t* cache_valid;
  unsigned char* cache;
};
constexpr size_t kCacheBytes = 256;

/// Deposits `size` bytes, waits until every non-returned lane of the caller's SIMD group has
/// reached the same collective, then returns all deposits. "The same collective" means the same
/// `tag` (one per collective function and data type), or, with METALLIC_HOST_STRICT_SIMD_SITES=1,
/// the same call site (`site` = return address into the kernel). Call sites are not the default:
/// the C++ compiler may duplicate a call (jump threading, tail duplication), so lanes executing
/// one MSL call can arrive from different return addresses. `what` names the collective in
/// error messages.
Exchange simd_exchange(const void* data, size_t size, const void* site, const void* tag,
                       const char* what);
/// simdgroup_barrier: every lane of the SIMD group (none may have returned).
void simd_barrier(const void* site);
/// True if METALLIC_HOST_STRICT_SIMD_SITES=1 (collectives match by call site).
bool strict_simd_sites();
/// threadgroup_barrier: every thread of the threadgroup (none may have returned).
void threadgroup_barrier(const void* site);

/// thread_index_in_simdgroup of the calling thread (simdgroup_matrix load/store).
uint32_t current_lane();
/// The builtin ids of the calling thread, or null outside a kernel (for debug checks).
const ThreadIds* current_thread();
/// The dispatch and kernel name being run on this OS thread, or null.
const mtlh_dispatch* current_dispatch();
const char* current_kernel();

/// Throws KernelFault "kernel <name>: <message>" with the current thread position appended.
MTLH_NORETURN void fault(const char* message);

/// Storage of threadgroup variable `id` for the current threadgroup (0xCD-filled when first
/// used in a threadgroup, which sets *fresh).
void* threadgroup_variable(uint32_t id, size_t size, size_t align, bool* fresh = nullptr);

/// What a [[buffer(i), function_constant(c)]] parameter binds while c is false (Metal removes
/// the parameter, and the code the compiler then proves dead, such as MLX's unconditional read
/// of addmm_params): 64 KiB of read-only zeros; *bytes is their size.
const void* unbound_buffer(uint64_t* bytes);

/// Function-constant values of the current dispatch. The `const` attribute lets the compiler
/// hoist them out of loops: they do not change during a dispatch.
MTLH_CONST_FN int64_t function_constant_int(uint32_t index);
MTLH_CONST_FN double function_constant_float(uint32_t index);
MTLH_CONST_FN bool function_constant_defined(uint32_t index);

/// Plain-loop execution (kernels without barriers/collectives): sets the per-OS-thread state
/// for the duration of a run_threadgroups call. `ids` is the loop's ThreadIds object.
struct PlainScope {
  PlainScope(const mtlh_dispatch* d, const char* kernel, const ThreadIds* ids);
  ~PlainScope();
  PlainScope(const PlainScope&) = delete;
  PlainScope& operator=(const PlainScope&) = delete;
  void* saved[2];
};
/// Starts a new threadgroup in plain mode: fresh threadgroup variables and [[threadgroup(i)]]
/// buffers (into group.threadgroup_buffers). `linear` is its index (named if it faults).
void plain_begin_threadgroup(ThreadgroupState& group, uint32_t threads, uint32_t linear);

/// Runs fn(arg), the threadgroup loop of a run_threadgroups call, and returns its result; with
/// d->fault_slot set, a hardware fault in it (integer division by zero, an invalid memory
/// access, a stack overflow, a trap) instead returns 1 after writing "kernel <name>: threadgroup
/// ... thread ...: <what happened>" into error. The per-OS-thread state is reset, so the thread
/// can run the next dispatch.
int run_guarded(const mtlh_dispatch* d, const char* kernel, int (*fn)(void*), void* arg,
                char* error, size_t error_len);
/// This OS thread's slot in the process-wide fault handler (see fault.cpp), installing the
/// handler on the first call; null when fault catching is off (METALLIC_HOST_CATCH_FAULTS=0).
/// The host device passes its own copy's in mtlh_dispatch::fault_slot.
mtlh_fault_target* volatile* fault_slot();
/// Interrupts `threads` once: one running kernel code under run_guarded returns 1 from it as
/// from a fault (a stop signal, see is_stop_signal), others carry on. The caller repeats until
/// the kernel it stops has returned. False if fault catching is off (nothing can be stopped).
bool request_stop(const pthread_t* threads, size_t count);
/// Whether a fault's signal number is the one request_stop sends.
bool is_stop_signal(int signo);

/// Runs threadgroups [first, first + count) with one fiber per thread.
int run_fibers(const mtlh_dispatch* d, uint32_t first, uint32_t count, const char* kernel,
               BodyFn body, char* error, size_t error_len);

/// Low-level fiber primitives (exposed for the micro-benchmark).
/// Saves the callee-saved state of the caller on its stack, stores its stack pointer into
/// *save_sp, and resumes the context whose stack pointer is new_sp.
/// Saves/restores the general-purpose callee-saved registers (x86-64: also MXCSR and the x87
/// control word; aarch64: also d8-d15).
extern "C" void mtlh_fiber_switch(void** save_sp, void* new_sp);
/// The same without the x86-64 FP control words: only between fibers of one kernel.
extern "C" void mtlh_fiber_switch_fast(void** save_sp, void* new_sp);
/// Prepares a context at the top of a stack that, when switched to, calls fn(arg) (fn must
/// never return). The FP control state is the caller's (or fp_state from fiber_fp_state()).
void* fiber_init(void* stack_top, void (*fn)(void*), void* arg);
void* fiber_init(void* stack_top, void (*fn)(void*), void* arg, uint64_t fp_state);
uint64_t fiber_fp_state();

}  // namespace rt
}  // namespace metal_host
