// Micro-benchmarks of the host execution model: raw fiber switch cost, a barrier-heavy
// threadgroup reduction (256 threads, log2(256) barriers), a simd_sum reduction, a
// simdgroup_matrix multiply loop, and the plain-loop path. Single OS thread.
//
// Build and run:
//   R=cpp/src/backends/host/msl
//   (built by CMake as bench_host_execution; by hand:)
//   g++ -std=c++17 -O2 -I$R/include benchmarks/bench_host_execution.cpp $R/runtime/*.cpp
//       -o /tmp/bench_host_execution -lpthread && /tmp/bench_host_execution
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <metal_stdlib>
#include <vector>

#include "../tests/msl/cpp/host_dispatch.h"  // Dispatch, and body_reduce: a tree reduction
#include "metal/runtime/launch.h"

using namespace metal;
using metal_host::builtin;
using metal_host::ThreadgroupState;
using metal_host::ThreadIds;
namespace rt = metal_host::rt;

static double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// ---- raw switch: main <-> one fiber ping-pong ------------------------------------------------
static void* g_main_sp;
static void* g_fiber_sp;
static long g_iters;

static void pingpong(void*) {
  for (;;) rt::mtlh_fiber_switch(&g_fiber_sp, g_main_sp);
}

// fiber <-> fiber with the fast switch (no FP control words), as the scheduler does
static void* g_a_sp;
static void* g_b_sp;
static void fiber_a(void*) {
  for (long i = 0; i < g_iters; ++i) rt::mtlh_fiber_switch_fast(&g_a_sp, g_b_sp);
  rt::mtlh_fiber_switch(&g_a_sp, g_main_sp);
}
static void fiber_b(void*) {
  for (;;) rt::mtlh_fiber_switch_fast(&g_b_sp, g_a_sp);
}

static void bench_switch() {
  static char stack[64 * 1024] __attribute__((aligned(64)));
  g_fiber_sp = rt::fiber_init(stack + sizeof stack, pingpong, nullptr);
  g_iters = 20'000'000;
  for (long i = 0; i < 100000; ++i) rt::mtlh_fiber_switch(&g_main_sp, g_fiber_sp);  // warm up
  const double t0 = now();
  for (long i = 0; i < g_iters; ++i) rt::mtlh_fiber_switch(&g_main_sp, g_fiber_sp);
  const double t = now() - t0;
  std::printf("switch thread<->fiber:  %6.2f ns per switch (full: GPRs + MXCSR + x87 CW)\n",
              t / (2.0 * g_iters) * 1e9);

  static char stack_a[64 * 1024] __attribute__((aligned(64)));
  static char stack_b[64 * 1024] __attribute__((aligned(64)));
  double best = 1e30;
  for (int rep = 0; rep < 3; ++rep) {
    g_a_sp = rt::fiber_init(stack_a + sizeof stack_a, fiber_a, nullptr);
    g_b_sp = rt::fiber_init(stack_b + sizeof stack_b, fiber_b, nullptr);
    const double t1 = now();
    rt::mtlh_fiber_switch(&g_main_sp, g_a_sp);
    best = std::min(best, now() - t1);
  }
  std::printf("switch fiber<->fiber:   %6.2f ns per switch (fast: GPRs only)\n",
              best / (2.0 * g_iters) * 1e9);
}

template <metal_host::BodyFn Body, bool Sync>
static double time_dispatch(Dispatch& disp, uint32_t groups, int reps) {
  char err[512];
  const mtlh_dispatch* d = disp.get();
  // warm up (allocates stacks)
  if (metal_host::run_threadgroups<Body, Sync>(d, 0, 1, "bench", err, sizeof err)) {
    std::fprintf(stderr, "error: %s\n", err);
    std::exit(1);
  }
  double best = 1e30;
  for (int r = 0; r < reps; ++r) {
    const double t0 = now();
    if (metal_host::run_threadgroups<Body, Sync>(d, 0, groups, "bench", err, sizeof err)) {
      std::fprintf(stderr, "error: %s\n", err);
      std::exit(1);
    }
    best = std::min(best, now() - t0);
  }
  return best;
}

// ---- simd_sum reduction ---------------------------------------------------------------------
static void k_simd_reduce(const float* in, float* out, uint tid, uint gid, ushort sg, ushort lane) {
  auto& part = ::metal_host::threadgroup_variable<float[8]>(1);
  const float s = simd_sum(in[gid * 256 + tid]);
  if (lane == 0) part[sg] = s;
  threadgroup_barrier(mem_flags::mem_threadgroup);
  if (sg == 0) {
    const float t = simd_sum(lane < 8 ? part[lane] : 0.0f);
    if (lane == 0) out[gid] = t;
  }
}
static void body_simd_reduce(const mtlh_dispatch* d, const ThreadIds& ids, ThreadgroupState&) {
  k_simd_reduce((const float*)d->buffers[0], (float*)d->buffers[1],
                builtin<uint>(ids.thread_index_in_threadgroup),
                builtin<uint>(ids.threadgroup_position_in_grid.x),
                builtin<ushort>(ids.simdgroup_index_in_threadgroup),
                builtin<ushort>(ids.thread_index_in_simdgroup));
}

// ---- simdgroup_matrix multiply loop (one SIMD group, 64 MMAs) ---------------------------------
static void k_mma(const float* a, float* c, ushort lane) {
  simdgroup_float8x8 ma, mb, acc = make_filled_simdgroup_matrix<float, 8, 8>(0.0f);
  for (int k = 0; k < 64; ++k) {
    simdgroup_load(ma, a + (k % 4) * 64);
    simdgroup_load(mb, a + ((k + 1) % 4) * 64);
    simdgroup_multiply_accumulate(acc, ma, mb, acc);
  }
  simdgroup_store(acc, c);
  (void)lane;
}
static void body_mma(const mtlh_dispatch* d, const ThreadIds& ids, ThreadgroupState&) {
  k_mma((const float*)d->buffers[0], (float*)d->buffers[1],
        builtin<ushort>(ids.thread_index_in_simdgroup));
}

// ---- plain loop ----------------------------------------------------------------------------
static void k_axpy(const float* x, float* y, uint gid) {
  y[gid] = 2.0f * x[gid] + y[gid];
}
static void body_axpy(const mtlh_dispatch* d, const ThreadIds& ids, ThreadgroupState&) {
  k_axpy((const float*)d->buffers[0], (float*)d->buffers[1],
         builtin<uint>(ids.thread_position_in_grid.x));
}

int main() {
  bench_switch();
  {
    const uint32_t groups = 2000;
    std::vector<float> in(groups * 256, 1.0f), out(groups);
    Dispatch disp(groups, 256, {in.data(), out.data()});
    const double t = time_dispatch<body_reduce, true>(disp, groups, 10);
    if (out[7] != 256.0f) std::fprintf(stderr, "wrong reduction result %f\n", out[7]);
    const double events = double(groups) * 256 * 10;  // start + 9 barriers (+ exit) per thread
    std::printf(
        "barrier tree reduction: %8.0f threadgroups/s (256 threads, 9 barriers; %.1f ns "
        "per thread per barrier)\n",
        groups / t, t / events * 1e9);
  }
  {
    const uint32_t groups = 4000;
    std::vector<float> in(groups * 256, 1.0f), out(groups);
    Dispatch disp(groups, 256, {in.data(), out.data()});
    const double t = time_dispatch<body_simd_reduce, true>(disp, groups, 5);
    if (out[3] != 256.0f) std::fprintf(stderr, "wrong simd reduction result %f\n", out[3]);
    std::printf(
        "simd_sum reduction:     %8.0f threadgroups/s (256 threads, 2 simd_sum + 1 barrier)\n",
        groups / t);
  }
  {
    const uint32_t groups = 2000;
    std::vector<float> a(256, 0.5f), c(64 * groups);
    Dispatch disp(groups, 32, {a.data(), c.data()});
    const double t = time_dispatch<body_mma, true>(disp, groups, 5);
    std::printf("simdgroup_matrix:       %8.2f M 8x8x8 MMAs/s\n", groups * 64 / t / 1e6);
  }
  {
    const uint32_t groups = 4096;
    std::vector<float> x(groups * 256, 1.0f), y(groups * 256, 0.0f);
    Dispatch disp(groups, 256, {x.data(), y.data()});
    const double t = time_dispatch<body_axpy, false>(disp, groups, 5);
    std::printf("plain loop (axpy):      %8.0f M threads/s\n", groups * 256.0 / t / 1e6);
  }
  return 0;
}
