// How a translated kernel runs its threadgroups on the host. The translator emits, per kernel,
// a body function that binds [[buffer]]/[[threadgroup]]/builtin parameters and calls the kernel,
// and instantiates run_threadgroups<body, uses_sync> as the library's entry point.
#pragma once

#include <cstdint>
#include <exception>
#include <type_traits>

#include "metal/runtime/exec.h"
#include "metallic_host_abi.h"

namespace metal_host {

struct Dim3 {
  uint32_t x, y, z;
};

/// Every builtin attribute value of one thread.
struct ThreadIds {
  Dim3 thread_position_in_grid;
  Dim3 thread_position_in_threadgroup;
  Dim3 threadgroup_position_in_grid;
  Dim3 threads_per_grid;
  Dim3 threads_per_threadgroup;  // actual size of this (possibly partial) threadgroup
  Dim3 threadgroups_per_grid;
  Dim3 dispatch_threads_per_threadgroup;
  uint32_t thread_index_in_threadgroup;
  uint32_t thread_index_in_simdgroup;
  uint32_t simdgroup_index_in_threadgroup;
  uint32_t simdgroups_per_threadgroup;
  uint32_t thread_index_in_quadgroup;
  uint32_t quadgroup_index_in_threadgroup;
  uint32_t quadgroups_per_threadgroup;
};

constexpr uint32_t kSimdWidth = 32;
constexpr uint32_t kQuadWidth = 4;
constexpr uint32_t kMaxBufferBindings = 31;

/// State shared by the threads of one threadgroup.
struct ThreadgroupState {
  void* threadgroup_buffers[kMaxBufferBindings];  // [[threadgroup(i)]] memory of this threadgroup
};

/// A fault detected while running a kernel (host checks, divergent barrier, ...).
struct KernelFault : std::exception {
  char message[768];
  const char* what() const noexcept override { return message; }
};

/// Writes "kernel <name>: <what>" (or `what` alone when it already starts with "kernel ").
inline void format_error(char* error, size_t error_len, const char* kernel, const char* what) {
  if (error == nullptr || error_len == 0) return;
  if (__builtin_strncmp(what, "kernel ", 7) == 0)
    __builtin_snprintf(error, error_len, "%s", what);
  else
    __builtin_snprintf(error, error_len, "kernel %s: %s", kernel, what);
}

/// Converts a builtin value to the parameter's declared type (uint, ushort, uint2, uint3, ...).
template <class T>
inline T builtin(Dim3 v) {
  if constexpr (std::is_constructible_v<T, uint32_t, uint32_t, uint32_t>) {
    return T(v.x, v.y, v.z);
  } else if constexpr (std::is_constructible_v<T, uint32_t, uint32_t>) {
    return T(v.x, v.y);
  } else {
    return T(v.x);
  }
}
template <class T>
inline T builtin(uint32_t v) {
  return T(v);
}

using BodyFn = void (*)(const mtlh_dispatch*, const ThreadIds&, ThreadgroupState&);

/// Fills the per-threadgroup part of `ids` for linear threadgroup `linear`.
inline void begin_threadgroup(const mtlh_dispatch* d, uint32_t linear, ThreadIds& ids) {
  const uint32_t gx = d->threadgroups_per_grid[0], gy = d->threadgroups_per_grid[1];
  ids.threadgroup_position_in_grid = {linear % gx, (linear / gx) % gy, linear / (gx * gy)};
  ids.threads_per_grid = {d->threads_per_grid[0], d->threads_per_grid[1], d->threads_per_grid[2]};
  ids.threadgroups_per_grid = {gx, gy, d->threadgroups_per_grid[2]};
  ids.dispatch_threads_per_threadgroup = {
      d->threads_per_threadgroup[0], d->threads_per_threadgroup[1], d->threads_per_threadgroup[2]};
  // Edge threadgroups of a dispatchThreads grid are partial.
  uint32_t size[3], origin[3];
  const uint32_t* tg = d->threads_per_threadgroup;
  const uint32_t pos[3] = {ids.threadgroup_position_in_grid.x, ids.threadgroup_position_in_grid.y,
                           ids.threadgroup_position_in_grid.z};
  for (int i = 0; i < 3; ++i) {
    origin[i] = pos[i] * tg[i];
    const uint32_t remaining =
        d->threads_per_grid[i] > origin[i] ? d->threads_per_grid[i] - origin[i] : 0;
    size[i] = remaining < tg[i] ? remaining : tg[i];
  }
  ids.threads_per_threadgroup = {size[0], size[1], size[2]};
  const uint32_t n = size[0] * size[1] * size[2];
  ids.simdgroups_per_threadgroup = (n + kSimdWidth - 1) / kSimdWidth;
  ids.quadgroups_per_threadgroup = (n + kQuadWidth - 1) / kQuadWidth;
}

/// Fills the per-thread part of `ids` for thread (x, y, z) of the current threadgroup.
inline void begin_thread(const mtlh_dispatch* d, uint32_t x, uint32_t y, uint32_t z,
                         ThreadIds& ids) {
  const Dim3 tg = ids.threadgroup_position_in_grid;
  const uint32_t* dtg = d->threads_per_threadgroup;
  ids.thread_position_in_threadgroup = {x, y, z};
  ids.thread_position_in_grid = {tg.x * dtg[0] + x, tg.y * dtg[1] + y, tg.z * dtg[2] + z};
  const Dim3 size = ids.threads_per_threadgroup;
  const uint32_t index = (z * size.y + y) * size.x + x;
  ids.thread_index_in_threadgroup = index;
  ids.thread_index_in_simdgroup = index % kSimdWidth;
  ids.simdgroup_index_in_threadgroup = index / kSimdWidth;
  ids.thread_index_in_quadgroup = index % kQuadWidth;
  ids.quadgroup_index_in_threadgroup = index / kQuadWidth;
}

/// The arguments of one run_threadgroups call (plain mode), through rt::run_guarded.
struct PlainRun {
  const mtlh_dispatch* d;
  uint32_t first, count;
  const char* kernel_name;
  char* error;
  size_t error_len;
};

/// Plain mode: the threads of each threadgroup run one after another as a loop. Written so the
/// compiler can turn the loop over a kernel's threads into straight-line (even vector) code:
/// the kernel sees a local copy of the dispatch whose buffer table it can prove no kernel store
/// touches (so argument loads leave the loop), and per-thread ids are locals. With host checks
/// on (PublishIds), each thread's ids are also published so faults can name the thread.
template <BodyFn Body, bool PublishIds>
int plain_loop(void* arg) {
  const PlainRun& run = *static_cast<const PlainRun*>(arg);
  const mtlh_dispatch* d = run.d;
  const uint32_t first = run.first, count = run.count;
  const char* kernel_name = run.kernel_name;
  // Inline bytes (setBytes) are the kernel's own read-only copy on a GPU too, so a local copy is
  // faithful, and it lets the compiler keep e.g. `params.n` in a register across the loop.
  constexpr size_t kInlineCopyBytes = 1024;
  alignas(16) unsigned char inline_copy[kInlineCopyBytes];
  size_t inline_used = 0;
  void* buffers[kMaxBufferBindings];
  for (uint32_t i = 0; i < kMaxBufferBindings; ++i) {
    buffers[i] = i < d->num_buffers ? d->buffers[i] : nullptr;
    const size_t length = i < d->num_buffers ? d->buffer_lengths[i] : 0;
    if ((d->inline_bytes_mask >> i & 1u) && inline_used + length <= kInlineCopyBytes) {
      __builtin_memcpy(inline_copy + inline_used, buffers[i], length);
      buffers[i] = inline_copy + inline_used;
      inline_used += (length + 15) & ~size_t(15);
    }
  }
  mtlh_dispatch local = *d;
  local.buffers = buffers;
  ThreadIds published{};
  ThreadgroupState group{};
  try {
    rt::PlainScope scope(d, kernel_name, PublishIds ? &published : nullptr);
    for (uint32_t linear = first; linear < first + count; ++linear) {
      ThreadIds tg_ids{};
      begin_threadgroup(d, linear, tg_ids);
      const Dim3 size = tg_ids.threads_per_threadgroup;
      rt::plain_begin_threadgroup(group, size.x * size.y * size.z, linear);
      for (uint32_t z = 0; z < size.z; ++z)
        for (uint32_t y = 0; y < size.y; ++y)
          for (uint32_t x = 0; x < size.x; ++x) {
            ThreadIds ids = tg_ids;
            begin_thread(&local, x, y, z, ids);
            if constexpr (PublishIds) published = ids;
            Body(&local, ids, group);
          }
    }
  } catch (const std::exception& e) {
    format_error(run.error, run.error_len, kernel_name, e.what());
    return 1;
  } catch (...) {
    format_error(run.error, run.error_len, kernel_name, "unknown C++ exception");
    return 1;
  }
  return 0;
}

/// Runs the plain loop with hardware faults caught (rt::run_guarded: one sigsetjmp per call).
template <BodyFn Body, bool PublishIds>
int run_plain(const mtlh_dispatch* d, uint32_t first, uint32_t count, const char* kernel_name,
              char* error, size_t error_len) {
  PlainRun run{d, first, count, kernel_name, error, error_len};
  return rt::run_guarded(d, kernel_name, &plain_loop<Body, PublishIds>, &run, error, error_len);
}

/// Runs threadgroups [first, first + count). Kernels without barriers or collectives run their
/// threads as a plain loop; the others run each thread as a fiber (rt::run_fibers). Returns 0,
/// or 1 after writing "kernel <name>: ..." into error.
template <BodyFn Body, bool UsesSync>
int run_threadgroups(const mtlh_dispatch* d, uint32_t first, uint32_t count,
                     const char* kernel_name, char* error, size_t error_len) {
  if constexpr (UsesSync) {
    return rt::run_fibers(d, first, count, kernel_name, Body, error, error_len);
  } else if (d->checks) {
    return run_plain<Body, true>(d, first, count, kernel_name, error, error_len);
  } else {
    return run_plain<Body, false>(d, first, count, kernel_name, error, error_len);
  }
}

}  // namespace metal_host
