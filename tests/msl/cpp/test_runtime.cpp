// Tests of the host execution model (fibers, barriers, SIMD-group/quad-group functions,
// simdgroup_matrix, threadgroup memory, function constants, error reporting).
//
// Hand-written in the shape the translator emits. Build and run:
//   R=cpp/src/backends/host/msl
//   g++ -std=c++17 -O2 -I$R/include tests/msl/cpp/test_runtime.cpp $R/runtime/*.cpp
//       -o /tmp/test_runtime -lpthread && /tmp/test_runtime
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <metal_stdlib>
#include <string>
#include <thread>
#include <vector>

#include "host_dispatch.h"  // Dispatch, and the tree-reduction kernel body_reduce
#include "metal/runtime/launch.h"

using namespace metal;
using metal_host::builtin;
using metal_host::ThreadgroupState;
using metal_host::ThreadIds;

static int g_failures = 0;
#define CHECK(cond)                                                                 \
  do {                                                                              \
    if (!(cond)) {                                                                  \
      std::fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      ++g_failures;                                                                 \
    }                                                                               \
  } while (0)
#define CHECK_EQ(a, b)                                                                    \
  do {                                                                                    \
    const auto va_ = (a);                                                                 \
    const auto vb_ = (b);                                                                 \
    if (!(va_ == vb_)) {                                                                  \
      std::fprintf(stderr, "%s:%d: CHECK_EQ failed: %s == %s (%lld vs %lld)\n", __FILE__, \
                   __LINE__, #a, #b, (long long)va_, (long long)vb_);                     \
      ++g_failures;                                                                       \
    }                                                                                     \
  } while (0)

template <metal_host::BodyFn Body, bool Sync>
static int run(Dispatch& disp, std::string* err = nullptr, const char* name = "test_kernel") {
  char error[1024] = {0};
  const mtlh_dispatch* d = disp.get();
  const int rc =
      metal_host::run_threadgroups<Body, Sync>(d, 0, disp.num_groups(), name, error, sizeof error);
  if (err) *err = error;
  if (rc != 0 && !err) std::fprintf(stderr, "unexpected kernel error: %s\n", error);
  return rc;
}

static bool contains(const std::string& s, const char* sub) {
  return s.find(sub) != std::string::npos;
}

// =============================================================================================
// 1. Tree reduction in threadgroup memory with log2(256) barriers (body_reduce: host_dispatch.h).
static void test_barrier_reduction() {
  const uint32_t groups = 37, tg = 256;
  std::vector<float> in(groups * tg), out(groups, -1.0f);
  for (size_t i = 0; i < in.size(); ++i) in[i] = float(i % 97);
  Dispatch disp(groups, tg, {in.data(), out.data()});
  CHECK_EQ((run<body_reduce, true>(disp)), 0);
  for (uint32_t g = 0; g < groups; ++g) {
    float ref = 0;
    for (uint32_t t = 0; t < tg; ++t) ref += in[g * tg + t];
    CHECK(out[g] == ref);
  }
}

// =============================================================================================
// 2. simd_sum over a partial last SIMD group, and lanes that returned early.
static void k_simd_sum(const int* in, int* out, uint tid) {
  const int s = simd_sum(in[tid]);
  out[tid] = s;
}
static void body_simd_sum(const mtlh_dispatch* d, const ThreadIds& ids, ThreadgroupState&) {
  k_simd_sum((const int*)d->buffers[0], (int*)d->buffers[1],
             builtin<uint>(ids.thread_index_in_threadgroup));
}

static void k_early(const int* in, int* out, uint tid, ushort lane) {
  if (lane % 3 == 1) {
    out[tid] = -7;
    return;
  }
  float4 v = float4(float(in[tid]), 1.0f, 2.0f, float(lane));
  float4 s = simd_sum(v);
  float4 mx = simd_max(v);
  out[tid] = int(s.x) * 1000 + int(s.y);
  if (lane == 0) out[64 + tid / 32] = int(mx.w);
}
static void body_early(const mtlh_dispatch* d, const ThreadIds& ids, ThreadgroupState&) {
  k_early((const int*)d->buffers[0], (int*)d->buffers[1],
          builtin<uint>(ids.thread_index_in_threadgroup),
          builtin<ushort>(ids.thread_index_in_simdgroup));
}

static void test_simd_sum_partial_and_early_return() {
  const uint32_t tg = 40;  // SIMD groups of 32 and 8 lanes
  std::vector<int> in(tg), out(tg, 0);
  for (uint32_t i = 0; i < tg; ++i) in[i] = int(i + 1);
  {
    Dispatch disp(1, tg, {in.data(), out.data()});
    CHECK_EQ((run<body_simd_sum, true>(disp)), 0);
    const int s0 = 32 * 33 / 2, s1 = (33 + 40) * 8 / 2;
    for (uint32_t i = 0; i < tg; ++i) CHECK_EQ(out[i], i < 32 ? s0 : s1);
  }
  {
    std::vector<int> out2(80, 0);
    Dispatch disp(1, tg, {in.data(), out2.data()});
    CHECK_EQ((run<body_early, true>(disp)), 0);
    int s[2] = {0, 0}, cnt[2] = {0, 0}, mx[2] = {0, 0};
    for (uint32_t i = 0; i < tg; ++i)
      if ((i % 32) % 3 != 1) {
        s[i / 32] += in[i];
        cnt[i / 32] += 1;
        mx[i / 32] = int(i % 32);
      }
    for (uint32_t i = 0; i < tg; ++i) {
      if ((i % 32) % 3 == 1)
        CHECK_EQ(out2[i], -7);
      else
        CHECK_EQ(out2[i], s[i / 32] * 1000 + cnt[i / 32]);
    }
    CHECK_EQ(out2[64], mx[0]);
    CHECK_EQ(out2[65], mx[1]);
  }
}

// =============================================================================================
// 3. Prefix sums / products, min/max/and/or/xor, vectors and half.
static void k_prefix(int* out, uint tid, ushort lane) {
  const int v = int(lane) + 1;
  out[tid * 8 + 0] = simd_prefix_inclusive_sum(v);
  out[tid * 8 + 1] = simd_prefix_exclusive_sum(v);
  out[tid * 8 + 2] = int(simd_prefix_exclusive_product(lane < 5 ? 2.0f : 1.0f));
  out[tid * 8 + 3] = simd_min(int(100 - lane));
  out[tid * 8 + 4] = int(simd_or(uint(1u << (lane % 16))));
  out[tid * 8 + 5] = int(simd_xor(uint(lane)));
  const half h = simd_sum(half(0.5f));
  out[tid * 8 + 6] = int(float(h) * 2);
  const int2 p = simd_prefix_inclusive_sum(int2(1, int(lane)));
  out[tid * 8 + 7] = p.x * 1000 + p.y;
}
static void body_prefix(const mtlh_dispatch* d, const ThreadIds& ids, ThreadgroupState&) {
  k_prefix((int*)d->buffers[0], builtin<uint>(ids.thread_index_in_threadgroup),
           builtin<ushort>(ids.thread_index_in_simdgroup));
}
static void test_prefix() {
  const uint32_t tg = 48;
  std::vector<int> out(tg * 8, 0);
  Dispatch disp(1, tg, {out.data()});
  CHECK_EQ((run<body_prefix, true>(disp)), 0);
  for (uint32_t t = 0; t < tg; ++t) {
    const int lane = int(t % 32), lanes = t < 32 ? 32 : 16;
    const int* o = &out[t * 8];
    CHECK_EQ(o[0], (lane + 1) * (lane + 2) / 2);
    CHECK_EQ(o[1], lane * (lane + 1) / 2);
    CHECK_EQ(o[2], 1 << std::min(lane, 5));
    CHECK_EQ(o[3], 100 - (lanes - 1));
    int orv = 0, xr = 0;
    for (int l = 0; l < lanes; ++l) {
      orv |= 1 << (l % 16);
      xr ^= l;
    }
    CHECK_EQ(o[4], orv);
    CHECK_EQ(o[5], xr);
    CHECK_EQ(o[6], lanes);
    CHECK_EQ(o[7], (lane + 1) * 1000 + lane * (lane + 1) / 2);
  }
}

// =============================================================================================
// 4. Shuffles, broadcast, ballot, votes.
static void k_shuffle(int* out, uint tid, ushort lane) {
  const int v = int(lane) * 10;
  int* o = out + tid * 16;
  o[0] = simd_shuffle(v, ushort((lane + 3) % 32));
  o[1] = simd_shuffle_up(v, 2);
  o[2] = simd_shuffle_down(v, 5);
  o[3] = simd_shuffle_xor(v, 1);
  o[4] = simd_shuffle_rotate_up(v, 1);
  o[5] = simd_shuffle_rotate_down(v, 3);
  o[6] = simd_broadcast(v, 7);
  o[7] = simd_broadcast_first(v + 1);
  o[8] = int(uint64_t(simd_ballot(lane % 4 == 0)));
  o[9] = simd_all(lane < 40) ? 1 : 0;
  o[10] = simd_any(lane == 31) ? 1 : 0;
  o[11] = simd_is_first() ? 1 : 0;
  o[12] = int(uint64_t(simd_active_threads_mask()));
  o[13] = simd_shuffle_and_fill_up(v, -v, 2);
  o[14] = simd_shuffle_and_fill_down(v, -v, 3, 8);
  o[15] = simd_ballot(lane < 100).all() ? 1 : 0;
}
static void body_shuffle(const mtlh_dispatch* d, const ThreadIds& ids, ThreadgroupState&) {
  k_shuffle((int*)d->buffers[0], builtin<uint>(ids.thread_index_in_threadgroup),
            builtin<ushort>(ids.thread_index_in_simdgroup));
}
static void test_shuffles() {
  const uint32_t tg = 64;
  std::vector<int> out(tg * 16, 0);
  Dispatch disp(1, tg, {out.data()});
  CHECK_EQ((run<body_shuffle, true>(disp)), 0);
  for (uint32_t t = 0; t < tg; ++t) {
    const int l = int(t % 32);
    const int* o = &out[t * 16];
    CHECK_EQ(o[0], ((l + 3) % 32) * 10);
    CHECK_EQ(o[1], l < 2 ? l * 10 : (l - 2) * 10);
    CHECK_EQ(o[2], l + 5 < 32 ? (l + 5) * 10 : l * 10);
    CHECK_EQ(o[3], (l ^ 1) * 10);
    CHECK_EQ(o[4], ((l + 31) % 32) * 10);
    CHECK_EQ(o[5], ((l + 3) % 32) * 10);
    CHECK_EQ(o[6], 70);
    CHECK_EQ(o[7], 1);
    CHECK_EQ(uint32_t(o[8]), 0x11111111u);
    CHECK_EQ(o[9], 1);
    CHECK_EQ(o[10], 1);
    CHECK_EQ(o[11], l == 0 ? 1 : 0);
    CHECK_EQ(uint32_t(o[12]), 0xFFFFFFFFu);
    CHECK_EQ(o[13], l >= 2 ? (l - 2) * 10 : -(30 + l) * 10);
    const int j = l % 8, b = l - j;
    CHECK_EQ(o[14], j + 3 < 8 ? (b + j + 3) * 10 : -(b + j + 3 - 8) * 10);
    CHECK_EQ(o[15], 1);
  }
}

// Shuffles with inactive (returned) lanes and a partial group: own value when the source lane
// is gone.
static void k_shuffle_partial(int* out, uint tid, ushort lane) {
  if (lane == 4) return;
  out[tid * 3 + 0] = simd_shuffle_down(int(lane), 1);
  out[tid * 3 + 1] = int(uint64_t(simd_ballot(true)));
  out[tid * 3 + 2] = simd_is_first() ? 1 : 0;
}
static void body_shuffle_partial(const mtlh_dispatch* d, const ThreadIds& ids, ThreadgroupState&) {
  k_shuffle_partial((int*)d->buffers[0], builtin<uint>(ids.thread_index_in_threadgroup),
                    builtin<ushort>(ids.thread_index_in_simdgroup));
}
static void test_shuffle_partial() {
  const uint32_t tg = 10;
  std::vector<int> out(tg * 3, -1);
  Dispatch disp(1, tg, {out.data()});
  CHECK_EQ((run<body_shuffle_partial, true>(disp)), 0);
  for (uint32_t l = 0; l < tg; ++l) {
    if (l == 4) continue;
    const int* o = &out[l * 3];
    const int expect = (l == 3 || l == 9) ? int(l) : int(l + 1);
    CHECK_EQ(o[0], expect);
    CHECK_EQ(uint32_t(o[1]), 0x3FFu & ~0x10u);
    CHECK_EQ(o[2], l == 0 ? 1 : 0);
  }
}

// =============================================================================================
// 5. Quad-group functions.
static void k_quad(int* out, uint tid, ushort qlane) {
  const int v = int(tid);
  int* o = out + tid * 10;
  o[0] = quad_sum(v);
  o[1] = quad_max(v);
  o[2] = quad_prefix_exclusive_sum(v);
  o[3] = quad_shuffle(v, 3);
  o[4] = quad_shuffle_down(v, 1);
  o[5] = quad_shuffle_xor(v, 2);
  o[6] = quad_shuffle_rotate_up(v, 1);
  o[7] = int(ushort(quad_ballot(qlane & 1)));
  o[8] = quad_broadcast(v, 2);
  o[9] = quad_is_first() ? 1 : 0;
}
static void body_quad(const mtlh_dispatch* d, const ThreadIds& ids, ThreadgroupState&) {
  k_quad((int*)d->buffers[0], builtin<uint>(ids.thread_index_in_threadgroup),
         builtin<ushort>(ids.thread_index_in_quadgroup));
}
static void test_quad() {
  const uint32_t tg = 36;
  std::vector<int> out(tg * 10, 0);
  Dispatch disp(1, tg, {out.data()});
  CHECK_EQ((run<body_quad, true>(disp)), 0);
  for (uint32_t t = 0; t < tg; ++t) {
    const int b = int(t & ~3u), q = int(t & 3);
    const int* o = &out[t * 10];
    CHECK_EQ(o[0], 4 * b + 6);
    CHECK_EQ(o[1], b + 3);
    int ex = 0;
    for (int k = 0; k < q; ++k) ex += b + k;
    CHECK_EQ(o[2], ex);
    CHECK_EQ(o[3], b + 3);
    CHECK_EQ(o[4], q < 3 ? int(t) + 1 : int(t));
    CHECK_EQ(o[5], b + (q ^ 2));
    CHECK_EQ(o[6], b + ((q + 3) & 3));
    CHECK_EQ(o[7], 0xA);
    CHECK_EQ(o[8], b + 2);
    CHECK_EQ(o[9], q == 0 ? 1 : 0);
  }
}

// =============================================================================================
// 6. simdgroup_matrix: C = A * B + C0 per SIMD group, via threadgroup memory and device memory.
template <class T>
static void k_mma(const float* a, const float* b, float* c, uint tid, ushort sg, ushort lane) {
  auto& sa = ::metal_host::threadgroup_variable<T[2][64]>(1);
  // Two SIMD groups; each stages its own A into threadgroup memory.
  for (uint i = lane; i < 64; i += 32) sa[sg][i] = T(a[sg * 64 + i]);
  threadgroup_barrier(mem_flags::mem_threadgroup);
  simdgroup_matrix<T, 8, 8> ma, mb, mc, md;
  simdgroup_load(ma, &sa[sg][0]);
  simdgroup_load(mb, b + sg * 64, 8, ulong2(0, 0), false);
  mc = make_filled_simdgroup_matrix<T, 8, 8>(T(1.0f));
  simdgroup_multiply_accumulate(md, ma, mb, mc);
  simdgroup_store(md, c + sg * 64, 8);
  // thread_elements layout: lane l holds row (l/4 & 4) + (l/2 % 4), cols c, c+1.
  simdgroup_matrix<T, 8, 8> mt;
  simdgroup_load(mt, b + sg * 64, 8, ulong2(0, 0), true);  // transposed B
  const vec<T, 2> e = mt.thread_elements();
  const uint row = ((lane / 4) & 4) + ((lane / 2) % 4), col = ((lane / 4) & 2) * 2 + (lane % 2) * 2;
  c[128 + tid * 2 + 0] = float(e[0]) - b[sg * 64 + col * 8 + row];
  c[128 + tid * 2 + 1] = float(e[1]) - b[sg * 64 + (col + 1) * 8 + row];
  // simdgroup_multiply into one of its operands, and store with an origin into a larger matrix.
  simdgroup_multiply(ma, ma, mb);
  simdgroup_store(ma, c + 256, 16, ulong2(8 * sg, 8), false);
}
template <class T>
static void body_mma(const mtlh_dispatch* d, const ThreadIds& ids, ThreadgroupState&) {
  k_mma<T>((const float*)d->buffers[0], (const float*)d->buffers[1], (float*)d->buffers[2],
           builtin<uint>(ids.thread_index_in_threadgroup),
           builtin<ushort>(ids.simdgroup_index_in_threadgroup),
           builtin<ushort>(ids.thread_index_in_simdgroup));
}
template <class T>
static void test_simdgroup_matrix(float tol) {
  std::vector<float> a(128), b(128), c(256 + 16 * 16, 0.0f);
  for (int i = 0; i < 128; ++i) {
    a[i] = float((i * 7) % 11) - 5.0f;
    b[i] = float((i * 5) % 13) * 0.5f - 3.0f;
  }
  Dispatch disp(1, 64, {a.data(), b.data(), c.data()});
  CHECK_EQ((run<body_mma<T>, true>(disp)), 0);
  for (int s = 0; s < 2; ++s)
    for (int i = 0; i < 8; ++i)
      for (int j = 0; j < 8; ++j) {
        float ref = 0;
        for (int k = 0; k < 8; ++k) ref += a[s * 64 + i * 8 + k] * b[s * 64 + k * 8 + j];
        CHECK(std::fabs(c[s * 64 + i * 8 + j] - (ref + 1.0f)) <= tol * (1 + std::fabs(ref)));
        CHECK(std::fabs(c[256 + (8 + i) * 16 + 8 * s + j] - ref) <= tol * (1 + std::fabs(ref)));
      }
  for (int i = 0; i < 128; ++i) CHECK(c[128 + i] == 0.0f);
  // the layout covers each (row, col) exactly once
  int seen[8][8] = {};
  for (int l = 0; l < 32; ++l) {
    const int row = ((l / 4) & 4) + ((l / 2) % 4), col = ((l / 4) & 2) * 2 + (l % 2) * 2;
    seen[row][col]++;
    seen[row][col + 1]++;
  }
  for (int i = 0; i < 8; ++i)
    for (int j = 0; j < 8; ++j) CHECK_EQ(seen[i][j], 1);
}

// =============================================================================================
// 7. Errors: divergent barrier, deadlock, divergent collectives, plain-mode detection.
static void k_divergent_barrier(int* out, uint tid) {
  if (tid >= 16) return;
  threadgroup_barrier(mem_flags::mem_threadgroup);
  out[tid] = 1;
}
static void body_divergent_barrier(const mtlh_dispatch* d, const ThreadIds& ids,
                                   ThreadgroupState&) {
  k_divergent_barrier((int*)d->buffers[0], builtin<uint>(ids.thread_index_in_threadgroup));
}

static void k_deadlock(int* out, uint tid) {
  // thread 0 waits at a second barrier that the others never reach
  threadgroup_barrier(mem_flags::mem_threadgroup);
  if (tid == 0) threadgroup_barrier(mem_flags::mem_threadgroup);
  out[tid] = 1;
}
static void body_deadlock(const mtlh_dispatch* d, const ThreadIds& ids, ThreadgroupState&) {
  k_deadlock((int*)d->buffers[0], builtin<uint>(ids.thread_index_in_threadgroup));
}

static void k_divergent_simd(int* out, uint tid, ushort lane) {
  int v;
  if (lane < 8)
    v = simd_sum(int(lane));
  else
    v = simd_max(int(lane)) + 1;
  out[tid] = v;
}
static void body_divergent_simd(const mtlh_dispatch* d, const ThreadIds& ids, ThreadgroupState&) {
  k_divergent_simd((int*)d->buffers[0], builtin<uint>(ids.thread_index_in_threadgroup),
                   builtin<ushort>(ids.thread_index_in_simdgroup));
}

static void k_plain_sync(int* out, uint tid) {
  const int s = simd_sum(1);
  threadgroup_barrier(mem_flags::mem_device);
  out[tid] = s;
}
static void body_plain_sync(const mtlh_dispatch* d, const ThreadIds& ids, ThreadgroupState&) {
  k_plain_sync((int*)d->buffers[0], builtin<uint>(ids.thread_index_in_threadgroup));
}

static void k_fault(int* out, uint tid) {
  threadgroup_barrier(mem_flags::mem_threadgroup);
  if (tid == 5) ::metal_host::rt::fault("device buffer 0 index 99 out of bounds");
  out[tid] = 1;
}
static void body_fault(const mtlh_dispatch* d, const ThreadIds& ids, ThreadgroupState&) {
  k_fault((int*)d->buffers[0], builtin<uint>(ids.thread_index_in_threadgroup));
}

static void test_errors() {
  std::vector<int> out(1024, 0);
  std::string err;
  {
    Dispatch disp(2, 64, {out.data()});
    CHECK_EQ((run<body_divergent_barrier, true>(disp, &err, "my_divergent_kernel")), 1);
    std::printf("  divergent barrier -> %s\n", err.c_str());
    CHECK(contains(err, "my_divergent_kernel"));
    CHECK(contains(err, "(16,0,0)"));
    CHECK(contains(err, "threadgroup_barrier"));
    CHECK(contains(err, "threadgroup (0,0,0)"));
  }
  {
    Dispatch disp(1, 40, {out.data()});
    CHECK_EQ((run<body_deadlock, true>(disp, &err, "my_deadlock_kernel")), 1);
    std::printf("  deadlock -> %s\n", err.c_str());
    CHECK(contains(err, "my_deadlock_kernel"));
    CHECK(contains(err, "(1,0,0)"));  // a thread that did not arrive
  }
  {
    Dispatch disp(1, 32, {out.data()});
    CHECK_EQ((run<body_divergent_simd, true>(disp, &err, "my_simd_kernel")), 1);
    std::printf("  divergent simd -> %s\n", err.c_str());
    CHECK(contains(err, "my_simd_kernel"));
    CHECK(contains(err, "divergent SIMD group 0"));
    CHECK(contains(err, "simd_sum"));
    CHECK(contains(err, "simd_max"));
    CHECK(contains(err, "(8,0,0)"));
  }
  {
    Dispatch disp(1, 64, {out.data()});
    CHECK_EQ((run<body_plain_sync, false>(disp, &err, "my_plain_kernel")), 1);
    std::printf("  plain sync -> %s\n", err.c_str());
    CHECK(contains(err, "kernel my_plain_kernel uses barriers/SIMD functions"));
    CHECK(contains(err, "not detected as such"));
  }
  {
    // A lone thread still works in plain mode.
    std::vector<int> o(4, 0);
    Dispatch disp(3, 1, {o.data()});
    CHECK_EQ((run<body_plain_sync, false>(disp)), 0);
    CHECK_EQ(o[0], 1);
  }
  {
    Dispatch disp(2, 32, {out.data()});
    CHECK_EQ((run<body_fault, true>(disp, &err, "my_fault_kernel")), 1);
    std::printf("  fault in fiber -> %s\n", err.c_str());
    CHECK(contains(err, "my_fault_kernel"));
    CHECK(contains(err, "thread (5,0,0)"));
    CHECK(contains(err, "out of bounds"));
  }
  // The runtime keeps working after errors.
  test_barrier_reduction();
}

// =============================================================================================
// 8. Threadgroup memory isolation: threadgroups on 2 OS threads at once; fresh per threadgroup.
static void k_isolation(uint* out, uint tid, uint gid, uint* tgbuf) {
  auto& shm = ::metal_host::threadgroup_variable<uint[128]>(2);
  auto& flag = ::metal_host::threadgroup_variable<atomic_uint>(3);
  // fresh storage: every word of the variable holds the garbage pattern before first write
  if (shm[tid] != 0xCDCDCDCDu || tgbuf[tid] != 0xCDCDCDCDu) out[gid * 2 + 1] = 1;
  threadgroup_barrier(mem_flags::mem_threadgroup);
  if (tid == 0) atomic_store_explicit(&flag, 0u, memory_order_relaxed);
  for (int round = 0; round < 4; ++round) {
    shm[tid] = gid * 1000 + tid + round;
    tgbuf[tid] = gid;
    threadgroup_barrier(mem_flags::mem_threadgroup);
    const uint other = shm[(tid + 1) % 128];
    if (other != gid * 1000 + (tid + 1) % 128 + round || tgbuf[127 - tid] != gid)
      out[gid * 2 + 1] = 2;
    atomic_fetch_add_explicit(&flag, 1u, memory_order_relaxed);
    threadgroup_barrier(mem_flags::mem_threadgroup);
  }
  if (tid == 0) out[gid * 2] = atomic_load_explicit(&flag, memory_order_relaxed);
}
static void body_isolation(const mtlh_dispatch* d, const ThreadIds& ids, ThreadgroupState& g) {
  k_isolation((uint*)d->buffers[0], builtin<uint>(ids.thread_index_in_threadgroup),
              builtin<uint>(ids.threadgroup_position_in_grid.x), (uint*)g.threadgroup_buffers[0]);
}
static void test_isolation() {
  const uint32_t groups = 400;
  std::vector<uint> out(groups * 2, 0);
  Dispatch disp(groups, 128, {out.data()});
  disp.tg_lengths = {128 * 4};
  const mtlh_dispatch* d = disp.get();
  int rc[2] = {-1, -1};
  char err[2][512] = {};
  std::thread workers[2];
  for (int w = 0; w < 2; ++w)
    workers[w] = std::thread([&, w] {
      // interleaved halves: even threadgroups on one thread, odd on the other, one at a time
      for (uint32_t g = uint32_t(w); g < groups; g += 2) {
        rc[w] = metal_host::run_threadgroups<body_isolation, true>(d, g, 1, "iso", err[w], 512);
        if (rc[w]) break;
      }
    });
  for (auto& t : workers) t.join();
  CHECK_EQ(rc[0], 0);
  CHECK_EQ(rc[1], 0);
  if (rc[0] || rc[1]) std::fprintf(stderr, "%s / %s\n", err[0], err[1]);
  for (uint32_t g = 0; g < groups; ++g) {
    CHECK_EQ(out[g * 2], 128u * 4);
    CHECK_EQ(out[g * 2 + 1], 0u);
  }
}

// =============================================================================================
// 9. Function constants.
static void k_consts(float* out) {
  out[0] = float(::metal_host::function_constant<bool>(0));
  out[1] = float(::metal_host::function_constant<int>(1));
  out[2] = float(::metal_host::function_constant<uint>(2));
  out[3] = float(::metal_host::function_constant<short>(3));
  out[4] = float(::metal_host::function_constant<ushort>(4));
  out[5] = ::metal_host::function_constant<float>(5);
  out[6] = float(::metal_host::function_constant<half>(600));
  out[7] = float(::metal_host::function_constant<int>(7));  // undefined
  out[8] = ::metal_host::function_constant_defined(7) ? 1.0f : 0.0f;
  out[9] = ::metal_host::function_constant_defined(600) ? 1.0f : 0.0f;
  out[10] = float(::metal_host::function_constant<const bool>(200000));  // undefined, big index
}
static void body_consts(const mtlh_dispatch* d, const ThreadIds&, ThreadgroupState&) {
  k_consts((float*)d->buffers[0]);
}
static void test_function_constants() {
  std::vector<float> out(11, -1.0f);
  Dispatch disp(1, 1, {out.data()});
  auto c = [](uint32_t index, uint32_t type, uint64_t bits) {
    return mtlh_constant{index, type, bits};
  };
  float f = 2.5f;
  uint32_t fb;
  std::memcpy(&fb, &f, 4);
  disp.constants = {c(0, 0, 1),           c(1, 1, uint32_t(-42)),
                    c(2, 2, 4000000000u), c(3, 3, uint16_t(-7)),
                    c(4, 4, 65535),       c(5, 5, fb),
                    c(600, 6, 0x3E00)};  // half 1.5
  CHECK_EQ((run<body_consts, false>(disp)), 0);
  CHECK(out[0] == 1.0f);
  CHECK(out[1] == -42.0f);
  CHECK(out[2] == 4000000000.0f);
  CHECK(out[3] == -7.0f);
  CHECK(out[4] == 65535.0f);
  CHECK(out[5] == 2.5f);
  CHECK(out[6] == 1.5f);
  CHECK(out[7] == 0.0f);
  CHECK(out[8] == 0.0f);
  CHECK(out[9] == 1.0f);
  CHECK(out[10] == 0.0f);
  // A second dispatch at the same address with other values is not served from a stale cache
  // (same and other execution mode).
  disp.constants = {c(1, 1, 5)};
  CHECK_EQ((run<body_consts, false>(disp)), 0);
  CHECK(out[1] == 5.0f);
  CHECK(out[0] == 0.0f);
  disp.constants = {c(1, 1, 6), c(0, 0, 1)};
  CHECK_EQ((run<body_consts, true>(disp)), 0);
  CHECK(out[1] == 6.0f);
  CHECK(out[0] == 1.0f);
}

// =============================================================================================
// 10. 2D/3D threadgroups: SIMD groups follow thread_index_in_threadgroup; partial edge groups.
static void k_2d(uint* out, uint2 pos, uint2 grid_pos, ushort sg) {
  const uint s = simd_sum(1u);
  threadgroup_barrier(mem_flags::mem_threadgroup);
  out[grid_pos.y * 20 + grid_pos.x] = s * 100 + sg;
  (void)pos;
}
static void body_2d(const mtlh_dispatch* d, const ThreadIds& ids, ThreadgroupState&) {
  k_2d((uint*)d->buffers[0], builtin<uint2>(ids.thread_position_in_threadgroup),
       builtin<uint2>(ids.thread_position_in_grid),
       builtin<ushort>(ids.simdgroup_index_in_threadgroup));
}
static void test_2d() {
  std::vector<uint> out(20 * 10, 0);
  Dispatch disp(1, 1, {out.data()});
  disp.grid({2, 2, 1}, {12, 6, 1});
  disp.d.threads_per_grid[0] = 20;  // dispatchThreads: edge threadgroups are partial (8 wide)
  disp.d.threads_per_grid[1] = 10;  // (4 high)
  CHECK_EQ((run<body_2d, true>(disp)), 0);
  for (uint y = 0; y < 10; ++y)
    for (uint x = 0; x < 20; ++x) {
      const uint w = x < 12 ? 12 : 8, h = y < 6 ? 6 : 4, n = w * h;
      const uint idx = (y % 6) * w + (x % 12), sg = idx / 32;
      const uint lanes = std::min(32u, n - sg * 32);
      CHECK_EQ(out[y * 20 + x], lanes * 100 + sg);
    }
}

int main() {
  struct {
    const char* name;
    void (*fn)();
  } tests[] = {
      {"barrier_reduction", test_barrier_reduction},
      {"simd_sum_partial_and_early_return", test_simd_sum_partial_and_early_return},
      {"prefix", test_prefix},
      {"shuffles", test_shuffles},
      {"shuffle_partial", test_shuffle_partial},
      {"quad", test_quad},
      {"simdgroup_matrix_float", [] { test_simdgroup_matrix<float>(1e-6f); }},
      {"simdgroup_matrix_half", [] { test_simdgroup_matrix<half>(2e-3f); }},
      {"simdgroup_matrix_bfloat", [] { test_simdgroup_matrix<bfloat>(2e-2f); }},
      {"errors", test_errors},
      {"isolation", test_isolation},
      {"function_constants", test_function_constants},
      {"2d", test_2d},
  };
  for (auto& t : tests) {
    const int before = g_failures;
    t.fn();
    std::printf("%s %s\n", g_failures == before ? "ok  " : "FAIL", t.name);
  }
  if (g_failures) {
    std::printf("%d check(s) failed\n", g_failures);
    return 1;
  }
  std::printf("all runtime tests passed\n");
  return 0;
}
