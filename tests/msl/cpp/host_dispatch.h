// Shared by tests/msl/cpp/test_runtime.cpp and benchmarks/bench_host_execution.cpp: a dispatch
// built by hand (what a generated launcher receives) and a kernel in the shape the translator
// emits, a tree reduction in threadgroup memory with log2(threads) barriers.
#pragma once

#include <cstdint>
#include <metal_stdlib>
#include <utility>
#include <vector>

#include "metal/runtime/launch.h"

/// A dispatch of `groups` threadgroups of `tg` threads (1D unless given), buffers as given.
struct Dispatch {
  std::vector<void*> buffers;
  std::vector<uint64_t> lengths;
  std::vector<uint64_t> tg_lengths;
  std::vector<mtlh_constant> constants;
  mtlh_dispatch d{};
  struct Dim3Like {
    uint32_t x, y, z;
  };
  Dispatch(uint32_t groups, uint32_t tg, std::vector<void*> bufs) : buffers(std::move(bufs)) {
    grid({groups, 1, 1}, {tg, 1, 1});
  }
  void grid(Dim3Like g, Dim3Like t) {
    d.threads_per_threadgroup[0] = t.x;
    d.threads_per_threadgroup[1] = t.y;
    d.threads_per_threadgroup[2] = t.z;
    d.threadgroups_per_grid[0] = g.x;
    d.threadgroups_per_grid[1] = g.y;
    d.threadgroups_per_grid[2] = g.z;
    d.threads_per_grid[0] = g.x * t.x;
    d.threads_per_grid[1] = g.y * t.y;
    d.threads_per_grid[2] = g.z * t.z;
  }
  const mtlh_dispatch* get() {
    d.buffers = buffers.data();
    lengths.resize(buffers.size(), 1 << 30);
    d.buffer_lengths = lengths.data();
    d.num_buffers = uint32_t(buffers.size());
    d.threadgroup_lengths = tg_lengths.data();
    d.num_threadgroup = uint32_t(tg_lengths.size());
    d.constants = constants.data();
    d.num_constants = uint32_t(constants.size());
    d.fault_slot = &metal_host::rt::fault_slot;  // as the host device does
    return &d;
  }
  uint32_t num_groups() const {
    return d.threadgroups_per_grid[0] * d.threadgroups_per_grid[1] * d.threadgroups_per_grid[2];
  }
};

/// out[group] = sum of in[] over the group's threads (at most 256 per threadgroup).
inline void k_reduce(const float* in, float* out, uint tid, uint gid, uint tg_size) {
  auto& shm = ::metal_host::threadgroup_variable<float[256]>(0);
  shm[tid] = in[gid * tg_size + tid];
  metal::threadgroup_barrier(metal::mem_flags::mem_threadgroup);
  for (uint s = tg_size / 2; s > 0; s >>= 1) {
    if (tid < s) shm[tid] += shm[tid + s];
    metal::threadgroup_barrier(metal::mem_flags::mem_threadgroup);
  }
  if (tid == 0) out[gid] = shm[0];
}
inline void body_reduce(const mtlh_dispatch* d, const metal_host::ThreadIds& ids,
                        metal_host::ThreadgroupState&) {
  k_reduce((const float*)d->buffers[0], (float*)d->buffers[1],
           metal_host::builtin<uint>(ids.thread_index_in_threadgroup),
           metal_host::builtin<uint>(ids.threadgroup_position_in_grid.x),
           metal_host::builtin<uint>(ids.threads_per_threadgroup.x));
}
