"""Realistic kernels in the style of MLX / llama.cpp Metal code: a threadgroup tree reduction,
RMSNorm and softmax rows with simd_sum/simd_max, an 8x8 simdgroup_matrix GEMM with odd sizes, a
prefix scan, a histogram with atomics, a templated kernel specialised by function constants."""

from __future__ import annotations

import metallic as mt
import numpy as np
import pytest

SOURCE = r"""
#include <metal_stdlib>
using namespace metal;

#define SIMD_SIZE 32

// ---- tree reduction in threadgroup memory (power-of-two threadgroup) -------------------------
template <typename T, int TG>
kernel void tree_sum(device const T* in [[buffer(0)]], device T* out [[buffer(1)]],
                     constant uint& n [[buffer(2)]],
                     uint gid [[threadgroup_position_in_grid]],
                     uint lid [[thread_position_in_threadgroup]]) {
  threadgroup T shared[TG];
  uint i = gid * TG * 2 + lid;
  T v = T(0);
  if (i < n) v += in[i];
  if (i + TG < n) v += in[i + TG];
  shared[lid] = v;
  threadgroup_barrier(mem_flags::mem_threadgroup);
  for (uint s = TG / 2; s > 0; s >>= 1) {
    if (lid < s) shared[lid] += shared[lid + s];
    threadgroup_barrier(mem_flags::mem_threadgroup);
  }
  if (lid == 0) out[gid] = shared[0];
}
template [[host_name("tree_sum_f32_128")]] kernel void tree_sum<float, 128>(
    device const float*, device float*, constant uint&, uint, uint);
template [[host_name("tree_sum_i32_64")]] kernel void tree_sum<int, 64>(
    device const int*, device int*, constant uint&, uint, uint);

// ---- RMSNorm: one threadgroup per row, simd_sum then a cross-simdgroup pass -------------------
struct RMSParams {
  uint n;
  float eps;
};
template <typename T>
kernel void rms_norm(device const T* x [[buffer(0)]], device const T* w [[buffer(1)]],
                     device T* out [[buffer(2)]], constant RMSParams& p [[buffer(3)]],
                     threadgroup float* partial [[threadgroup(0)]],
                     uint row [[threadgroup_position_in_grid]],
                     uint lid [[thread_position_in_threadgroup]],
                     uint tgsize [[threads_per_threadgroup]],
                     uint simd_lane [[thread_index_in_simdgroup]],
                     uint simd_group [[simdgroup_index_in_threadgroup]],
                     uint nsimd [[simdgroups_per_threadgroup]]) {
  device const T* xr = x + row * p.n;
  float acc = 0.0f;
  for (uint k = lid; k < p.n; k += tgsize) {
    float v = float(xr[k]);
    acc += v * v;
  }
  acc = simd_sum(acc);
  if (simd_lane == 0) partial[simd_group] = acc;
  threadgroup_barrier(mem_flags::mem_threadgroup);
  if (simd_group == 0) {
    float t = simd_lane < nsimd ? partial[simd_lane] : 0.0f;
    t = simd_sum(t);
    if (simd_lane == 0) partial[0] = metal::rsqrt(t / float(p.n) + p.eps);
  }
  threadgroup_barrier(mem_flags::mem_threadgroup);
  float scale = partial[0];
  for (uint k = lid; k < p.n; k += tgsize) out[row * p.n + k] = T(float(xr[k]) * scale * float(w[k]));
}
template [[host_name("rms_norm_float")]] kernel void rms_norm<float>(
    device const float*, device const float*, device float*, constant RMSParams&,
    threadgroup float*, uint, uint, uint, uint, uint, uint);
template [[host_name("rms_norm_half")]] kernel void rms_norm<half>(
    device const half*, device const half*, device half*, constant RMSParams&,
    threadgroup float*, uint, uint, uint, uint, uint, uint);

// ---- softmax: one SIMD group per row (llama.cpp style), reductions through a helper struct ----
struct SimdReduce {
  METAL_FUNC float max(float v) const { return simd_max(v); }
  METAL_FUNC float sum(float v) const { return simd_sum(v); }
};
kernel void softmax_rows(device const float* x [[buffer(0)]], device float* y [[buffer(1)]],
                         constant int& ncols [[buffer(2)]],
                         uint3 tgpig [[threadgroup_position_in_grid]],
                         ushort tiisg [[thread_index_in_simdgroup]],
                         ushort sgitg [[simdgroup_index_in_threadgroup]],
                         ushort nsg [[simdgroups_per_threadgroup]]) {
  const int row = tgpig.x * nsg + sgitg;
  device const float* xr = x + row * ncols;
  SimdReduce red;
  float m = -INFINITY;
  for (int k = tiisg; k < ncols; k += SIMD_SIZE) m = metal::max(m, xr[k]);
  m = red.max(m);
  float s = 0.0f;
  for (int k = tiisg; k < ncols; k += SIMD_SIZE) {
    const float e = fast::exp(xr[k] - m);
    y[row * ncols + k] = e;
    s += e;
  }
  s = red.sum(s);
  const float inv = 1.0f / s;
  for (int k = tiisg; k < ncols; k += SIMD_SIZE) y[row * ncols + k] *= inv;
}

// ---- GEMM with 8x8 simdgroup matrices: C[M,N] = A[M,K] * B[K,N], one SIMD group per 8x8 tile;
// tiles are staged in threadgroup memory, zero-padded at the edges. -----------------------------
struct GemmParams {
  int M, N, K;
};
kernel void gemm_sg(device const float* A [[buffer(0)]], device const float* B [[buffer(1)]],
                    device float* C [[buffer(2)]], constant GemmParams& p [[buffer(3)]],
                    uint2 tile [[threadgroup_position_in_grid]],
                    ushort lane [[thread_index_in_simdgroup]]) {
  threadgroup float As[8 * 8];
  threadgroup float Bs[8 * 8];
  threadgroup float Cs[8 * 8];
  const int row0 = tile.y * 8, col0 = tile.x * 8;
  simdgroup_float8x8 acc = make_filled_simdgroup_matrix<float, 8, 8>(0.0f);
  for (int k0 = 0; k0 < p.K; k0 += 8) {
    for (int e = lane; e < 64; e += 32) {
      const int r = e / 8, c = e % 8;
      As[e] = (row0 + r < p.M && k0 + c < p.K) ? A[(row0 + r) * p.K + k0 + c] : 0.0f;
      Bs[e] = (k0 + r < p.K && col0 + c < p.N) ? B[(k0 + r) * p.N + col0 + c] : 0.0f;
    }
    simdgroup_barrier(mem_flags::mem_threadgroup);
    simdgroup_float8x8 a, b;
    simdgroup_load(a, As, 8);
    simdgroup_load(b, Bs, 8);
    simdgroup_multiply_accumulate(acc, a, b, acc);
    simdgroup_barrier(mem_flags::mem_threadgroup);
  }
  simdgroup_store(acc, Cs, 8);
  simdgroup_barrier(mem_flags::mem_threadgroup);
  for (int e = lane; e < 64; e += 32) {
    const int r = e / 8, c = e % 8;
    if (row0 + r < p.M && col0 + c < p.N) C[(row0 + r) * p.N + col0 + c] = Cs[e];
  }
}

// ---- inclusive prefix scan of a row: simd scans + threadgroup scan of SIMD totals ------------
kernel void scan_rows(device const int* in [[buffer(0)]], device int* out [[buffer(1)]],
                      constant uint& n [[buffer(2)]], uint row [[threadgroup_position_in_grid]],
                      uint lid [[thread_index_in_threadgroup]],
                      uint tgsize [[threads_per_threadgroup]],
                      uint lane [[thread_index_in_simdgroup]],
                      uint sg [[simdgroup_index_in_threadgroup]]) {
  threadgroup int totals[32];
  threadgroup int carry;
  if (lid == 0) carry = 0;
  threadgroup_barrier(mem_flags::mem_threadgroup);
  for (uint base = 0; base < n; base += tgsize) {
    const uint i = base + lid;
    int v = i < n ? in[row * n + i] : 0;
    int s = simd_prefix_inclusive_sum(v);
    if (lane == 31) totals[sg] = s;
    threadgroup_barrier(mem_flags::mem_threadgroup);
    if (sg == 0) {
      int t = lane < (tgsize + 31) / 32 ? totals[lane] : 0;
      totals[lane] = simd_prefix_exclusive_sum(t);
    }
    threadgroup_barrier(mem_flags::mem_threadgroup);
    s += totals[sg] + carry;
    if (i < n) out[row * n + i] = s;
    threadgroup_barrier(mem_flags::mem_threadgroup);
    if (lid == tgsize - 1) carry = s;
    threadgroup_barrier(mem_flags::mem_threadgroup);
  }
}

// ---- histogram: threadgroup-local bins, then device atomics ----------------------------------
kernel void histogram(device const float* x [[buffer(0)]], device atomic_uint* bins [[buffer(1)]],
                      constant uint& n [[buffer(2)]], constant uint& nbins [[buffer(3)]],
                      uint i [[thread_position_in_grid]], uint lid [[thread_index_in_threadgroup]],
                      uint tgsize [[threads_per_threadgroup]]) {
  threadgroup atomic_uint local[64];
  for (uint b = lid; b < nbins; b += tgsize) atomic_store_explicit(&local[b], 0u, memory_order_relaxed);
  threadgroup_barrier(mem_flags::mem_threadgroup);
  if (i < n) {
    uint b = uint(clamp(x[i], 0.0f, 0.999999f) * float(nbins));
    atomic_fetch_add_explicit(&local[b], 1u, memory_order_relaxed);
  }
  threadgroup_barrier(mem_flags::mem_threadgroup);
  for (uint b = lid; b < nbins; b += tgsize) {
    uint c = atomic_load_explicit(&local[b], memory_order_relaxed);
    if (c) atomic_fetch_add_explicit(&bins[b], c, memory_order_relaxed);
  }
}

// ---- templated kernel specialised by function constants (MLX style) --------------------------
constant bool has_residual [[function_constant(0)]];
constant bool do_gelu [[function_constant(1)]];
constant bool residual_gelu = has_residual && do_gelu;
template <typename T>
kernel void bias_act(device const T* x [[buffer(0)]], device const T* bias [[buffer(1)]],
                     device const T* residual [[buffer(2)]], device T* out [[buffer(3)]],
                     constant uint& cols [[buffer(4)]], uint2 pos [[thread_position_in_grid]]) {
  const uint idx = pos.y * cols + pos.x;
  float v = float(x[idx]) + float(bias[pos.x]);
  if (do_gelu) v = 0.5f * v * (1.0f + precise::tanh(0.7978845608f * (v + 0.044715f * v * v * v)));
  if (has_residual) v += float(residual[idx]);
  if (residual_gelu) v *= 1.0f;
  out[idx] = T(v);
}
template [[host_name("bias_act_float")]] kernel void bias_act<float>(
    device const float*, device const float*, device const float*, device float*, constant uint&,
    uint2);
template [[host_name("bias_act_half")]] kernel void bias_act<half>(
    device const half*, device const half*, device const half*, device half*, constant uint&,
    uint2);
"""


@pytest.fixture(scope="module")
def lib(msl):
    return msl.library(SOURCE, name="realistic")


@pytest.mark.parametrize(
    "name,dt,tg,n",
    [("tree_sum_f32_128", np.float32, 128, 1000), ("tree_sum_i32_64", np.int32, 64, 777)],
)
def test_tree_reduction(msl, lib, name, dt, tg, n):
    rng = np.random.default_rng(1)
    x = (rng.standard_normal(n) * 10).astype(dt)
    groups = (n + 2 * tg - 1) // (2 * tg)
    (_, out, _) = msl.run(
        lib,
        name,
        x,
        np.zeros(groups, dt),
        np.uint32(n),
        grid=(groups,),
        threadgroup=(tg,),
        dispatch="threadgroups",
    )
    expect = [c.sum() for c in np.split(x, range(2 * tg, n, 2 * tg))]
    np.testing.assert_allclose(out, expect, rtol=1e-5)


@pytest.mark.parametrize("dt", [np.float32, np.float16])
@pytest.mark.parametrize("cols,tg", [(37, 64), (1001, 96), (5, 32)])
def test_rms_norm(msl, lib, dt, cols, tg):
    rows = 3
    rng = np.random.default_rng(cols)
    x = rng.standard_normal((rows, cols)).astype(dt)
    w = rng.standard_normal(cols).astype(dt)
    params = np.array([(cols, 1e-5)], dtype=[("n", "<u4"), ("eps", "<f4")]).tobytes()
    name = "rms_norm_float" if dt == np.float32 else "rms_norm_half"
    (_, _, out, _) = msl.run(
        lib,
        name,
        x,
        w,
        np.zeros_like(x),
        params,
        grid=(rows,),
        threadgroup=(tg,),
        dispatch="threadgroups",
        threadgroup_memory={0: 32 * 4},
    )
    xf = x.astype(np.float32)
    expect = xf / np.sqrt((xf * xf).mean(1, keepdims=True) + 1e-5) * w.astype(np.float32)
    tol = 1e-5 if dt == np.float32 else 2e-3
    np.testing.assert_allclose(out.astype(np.float32), expect, rtol=tol * 5, atol=tol * 5)


def test_softmax_rows(msl, lib):
    rows, cols = 8, 77
    x = np.random.default_rng(2).standard_normal((rows, cols)).astype(np.float32) * 4
    (_, y, _) = msl.run(
        lib,
        "softmax_rows",
        x,
        np.zeros_like(x),
        np.int32(cols),
        grid=(2,),
        threadgroup=(128,),
        dispatch="threadgroups",
    )
    e = np.exp(x - x.max(1, keepdims=True))
    np.testing.assert_allclose(y, e / e.sum(1, keepdims=True), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("M,N,K", [(8, 8, 8), (13, 21, 19), (1, 9, 5), (30, 7, 33)])
def test_simdgroup_gemm(msl, lib, M, N, K):
    rng = np.random.default_rng(M * N * K)
    A = rng.standard_normal((M, K)).astype(np.float32)
    B = rng.standard_normal((K, N)).astype(np.float32)
    C = np.full((M, N), np.nan, np.float32)
    params = np.array([M, N, K], np.int32).tobytes()
    (_, _, C, _) = msl.run(
        lib,
        "gemm_sg",
        A,
        B,
        C,
        params,
        grid=((N + 7) // 8, (M + 7) // 8),
        threadgroup=(32,),
        dispatch="threadgroups",
    )
    np.testing.assert_allclose(C, A @ B, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("n,tg", [(100, 64), (1000, 256), (31, 32)])
def test_prefix_scan(msl, lib, n, tg):
    rows = 2
    x = np.random.default_rng(n).integers(-50, 50, (rows, n)).astype(np.int32)
    (_, out, _) = msl.run(
        lib,
        "scan_rows",
        x,
        np.zeros_like(x),
        np.uint32(n),
        grid=(rows,),
        threadgroup=(tg,),
        dispatch="threadgroups",
    )
    np.testing.assert_array_equal(out, np.cumsum(x, axis=1))


def test_histogram(msl, lib):
    n, nbins = 5000, 50
    x = np.random.default_rng(3).random(n).astype(np.float32)
    (_, bins, _, _) = msl.run(
        lib,
        "histogram",
        x,
        np.zeros(nbins, np.uint32),
        np.uint32(n),
        np.uint32(nbins),
        grid=(n,),
        threadgroup=(128,),
    )
    idx = np.minimum((np.clip(x, 0, 0.999999) * nbins).astype(np.int64), nbins - 1)
    np.testing.assert_array_equal(bins, np.bincount(idx, minlength=nbins))


@pytest.mark.parametrize("dt", [np.float32, np.float16])
@pytest.mark.parametrize("residual,gelu", [(False, False), (True, False), (True, True)])
def test_function_constant_specialised_template(msl, lib, dt, residual, gelu):
    rows, cols = 5, 19
    rng = np.random.default_rng(4)
    x = rng.standard_normal((rows, cols)).astype(dt)
    b = rng.standard_normal(cols).astype(dt)
    r = rng.standard_normal((rows, cols)).astype(dt)
    name = "bias_act_float" if dt == np.float32 else "bias_act_half"
    (_, _, _, out, _) = msl.run(
        lib,
        name,
        x,
        b,
        r,
        np.zeros_like(x),
        np.uint32(cols),
        grid=(cols, rows),
        threadgroup=(8, 4),
        constants={"has_residual": residual, "do_gelu": gelu},
    )
    v = x.astype(np.float32) + b.astype(np.float32)
    if gelu:
        v = 0.5 * v * (1 + np.tanh(0.7978845608 * (v + 0.044715 * v**3)))
    if residual:
        v = v + r.astype(np.float32)
    tol = 1e-5 if dt == np.float32 else 2e-3
    np.testing.assert_allclose(out.astype(np.float32), v.astype(dt), rtol=tol, atol=tol)


LLAMA_STYLE_RMS_NORM = """
#include <metal_stdlib>
using namespace metal;

typedef struct {
    int32_t  ne00;
    int32_t  ne01;
    uint64_t nb01;   // row stride in bytes
    float    eps;
} RmsNormArgs;

// The style of llama.cpp's Metal kernels: arguments without [[buffer]] attributes (implicit
// indices), byte pointers cast to float4, ushort builtins, an instantiation through a typedef.
template <typename T>
kernel void rms_norm_rows(
        constant RmsNormArgs & args,
        device const char * src,
        device       char * dst,
        threadgroup float * partial [[threadgroup(0)]],
        uint   row   [[threadgroup_position_in_grid]],
        ushort tid   [[thread_position_in_threadgroup]],
        ushort sg    [[simdgroup_index_in_threadgroup]],
        ushort lane  [[thread_index_in_simdgroup]],
        ushort nth   [[threads_per_threadgroup]]) {
    if (sg == 0) {
        partial[lane] = 0.0f;
    }
    device const T * x = (device const T *) (src + row*args.nb01);
    float sum = 0.0f;
    for (int i = tid; i < args.ne00/4; i += nth) {
        sum += dot(x[i], x[i]);
    }
    sum = simd_sum(sum);
    threadgroup_barrier(mem_flags::mem_threadgroup);
    if (lane == 0) {
        partial[sg] = sum;
    }
    threadgroup_barrier(mem_flags::mem_threadgroup);
    sum = simd_sum(partial[lane]);
    const float scale = 1.0f/sqrt(sum/args.ne00 + args.eps);
    device T * y = (device T *) (dst + row*args.nb01);
    for (int i = tid; i < args.ne00/4; i += nth) {
        y[i] = x[i] * scale;
    }
}

typedef decltype(rms_norm_rows<float4>) rms_norm_rows_t;
template [[host_name("rms_norm_f32")]] kernel rms_norm_rows_t rms_norm_rows<float4>;
"""


@pytest.mark.parametrize("checks", [False, True])
def test_llama_style_rms_norm(checks: bool) -> None:
    lib = mt.compile_library(LLAMA_STYLE_RMS_NORM, name="llama_style_rms_norm")
    ctx = mt.Context(device="host", host_checks=checks)
    rows, n = 5, 264  # 66 float4 per row: not a multiple of the 64-thread threadgroup
    x = np.random.default_rng(0).standard_normal((rows, n)).astype(np.float32)
    dst = ctx.zeros((rows, n))
    args_type = np.dtype(
        [("ne00", "<i4"), ("ne01", "<i4"), ("nb01", "<u8"), ("eps", "<f4")], align=True
    )
    args = np.array([(n, rows, n * 4, 1e-6)], dtype=args_type)
    lib.function("rms_norm_f32")(
        args,
        ctx.tensor(x),
        dst,
        grid=(rows,),
        threadgroup=(64,),
        dispatch="threadgroups",
        threadgroup_memory={0: 32 * 4},
        ctx=ctx,
    )
    expected = x / np.sqrt((x * x).mean(1, keepdims=True) + 1e-6)
    np.testing.assert_allclose(dst.numpy(), expected, rtol=1e-5, atol=1e-6)
