/* The C ABI between the host device (in the metallic module) and a translated kernel library
 * (linked into the module, or a shared object compiled at run time). Plain C so that a library
 * built by another compiler invocation can be loaded safely. */
#ifndef METALLIC_HOST_ABI_H
#define METALLIC_HOST_ABI_H

#include <stddef.h>
#include <stdint.h>

#define METALLIC_HOST_ABI_VERSION 4

#ifdef __cplusplus
extern "C" {
#endif

/* The value of one [[function_constant(index)]]; `type` is FunctionConstant::Type. */
typedef struct mtlh_constant {
  uint32_t index;
  uint32_t type;
  uint64_t bits;
} mtlh_constant;

/* A hardware fault (signal) raised by kernel code, as the host device's signal handler saw it. */
typedef struct mtlh_fault_info {
  int signo;  /* SIGSEGV, SIGBUS, SIGFPE or SIGILL */
  int code;   /* si_code */
  void* addr; /* si_addr: the faulting address (SIGSEGV/SIGBUS) or instruction */
  void* pc;   /* instruction pointer at the fault, or null */
  void* sp;   /* stack pointer at the fault, or null */
} mtlh_fault_info;

/* Where a kernel library recovers from a fault in its kernel code. `recover` is called by the
 * signal handler (so it must be async-signal-safe) and never returns: it jumps back into the
 * library's run function, which then reports the fault as an error. */
typedef struct mtlh_fault_target mtlh_fault_target;
struct mtlh_fault_target {
  void (*recover)(mtlh_fault_target* self, const mtlh_fault_info* info);
};

/* The calling OS thread's fault slot. A library stores its target there while kernel code runs
 * on this thread and null otherwise; a fault while the slot is null goes to the previous signal
 * disposition (the process's own handlers, or the default action). */
typedef mtlh_fault_target* volatile* (*mtlh_fault_slot_fn)(void);

/* Everything a kernel sees of one dispatch. */
typedef struct mtlh_dispatch {
  void* const* buffers;                /* [[buffer(i)]]: base + offset, or the inline bytes */
  const uint64_t* buffer_lengths;      /* bytes reachable from buffers[i] (for host checks) */
  uint32_t num_buffers;                /* highest bound index + 1 */
  const uint64_t* threadgroup_lengths; /* [[threadgroup(i)]] lengths set by the encoder */
  uint32_t num_threadgroup;
  const mtlh_constant* constants; /* function-constant values of the pipeline, by index */
  uint32_t num_constants;
  uint32_t threads_per_grid[3];
  uint32_t threads_per_threadgroup[3]; /* as dispatched (dispatch_threads_per_threadgroup) */
  uint32_t threadgroups_per_grid[3];
  uint32_t checks;               /* nonzero: host debug checks are on */
  uint32_t inline_bytes_mask;    /* bit i: buffers[i] holds inline bytes (setBytes) */
  mtlh_fault_slot_fn fault_slot; /* null: faults in kernel code are not caught */
} mtlh_dispatch;

/* Runs threadgroups [first, first + count) of a dispatch (linear index, x fastest). Returns 0,
 * or nonzero after writing a message (naming kernel, thread and cause) into error[error_len]. */
typedef int (*mtlh_run_fn)(const mtlh_dispatch* dispatch, uint32_t first, uint32_t count,
                           char* error, size_t error_len);

/* One [[buffer(i)]] or [[threadgroup(i)]] parameter of a kernel: what the host device checks a
 * dispatch's arguments against. */
#define MTLH_PARAM_BUFFER 0
#define MTLH_PARAM_THREADGROUP 1
typedef struct mtlh_param {
  uint32_t kind;         /* MTLH_PARAM_BUFFER or MTLH_PARAM_THREADGROUP */
  uint32_t index;        /* i of [[buffer(i)]] / [[threadgroup(i)]] */
  uint64_t element_size; /* bytes of the type it points or refers to (0: void) */
  uint32_t is_reference; /* T& (one value), not T* (an array) */
  uint32_t optional;     /* [[function_constant]]: may be left unbound */
  const char* name;      /* as in the source */
  const char* type;      /* as spelled in the source (after translation) */
} mtlh_param;

typedef struct mtlh_kernel {
  const char* name; /* the MSL function name, or its [[host_name]] */
  mtlh_run_fn run;
  uint32_t uses_sync; /* barriers or SIMD-group collectives: threads run as fibers */
  uint32_t max_total_threads_per_threadgroup;
  uint64_t static_threadgroup_memory; /* bytes of threadgroup variables declared in the body */
  const mtlh_param* params;           /* num_params entries */
  uint32_t num_params;
} mtlh_kernel;

typedef struct mtlh_library {
  uint32_t abi_version; /* METALLIC_HOST_ABI_VERSION */
  const char* name;
  uint32_t num_kernels;
  const mtlh_kernel* kernels;
} mtlh_library;

/* A shared object compiled at run time exports this. Built-in libraries export
 * metallic_host_library_<name>() instead, listed by the generated registry. */
typedef const mtlh_library* (*mtlh_library_fn)(void);

#ifdef __cplusplus
}
#endif

#endif
