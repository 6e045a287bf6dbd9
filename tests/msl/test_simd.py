"""SIMD-group and quad-group functions (reductions, scans, shuffles, broadcast, votes), including
a partial last SIMD group and lanes that returned early; simdgroup_matrix 8x8."""

from __future__ import annotations

import numpy as np
import pytest

SOURCE = r"""
#include <metal_stdlib>
using namespace metal;

#define NF 24
// One record of NF ints per thread. Lanes with skip[tid] != 0 return before any collective.
kernel void simd_funcs(device const int* in [[buffer(0)]], device const uchar* skip [[buffer(1)]],
                       device int* out [[buffer(2)]], uint tid [[thread_position_in_grid]],
                       uint lane [[thread_index_in_simdgroup]]) {
  if (skip[tid]) return;
  int v = in[tid];
  device int* r = out + tid * NF;
  r[0] = simd_sum(v);
  r[1] = simd_product(v % 3 + 1);
  r[2] = simd_min(v);
  r[3] = simd_max(v);
  r[4] = int(simd_and(uint(v) | 0x100u));
  r[5] = int(simd_or(uint(v)));
  r[6] = int(simd_xor(uint(v)));
  r[7] = simd_prefix_inclusive_sum(v);
  r[8] = simd_prefix_exclusive_sum(v);
  r[9] = simd_prefix_exclusive_product(v % 3 + 1);
  r[10] = simd_shuffle(v, ushort(lane ^ 1u));
  r[11] = simd_shuffle_up(v, 3);
  r[12] = simd_shuffle_down(v, 2);
  r[13] = simd_shuffle_xor(v, 4);
  r[14] = simd_shuffle_rotate_up(v, 5);
  r[15] = simd_shuffle_rotate_down(v, 1);
  r[16] = simd_broadcast(v, 3);
  r[17] = simd_broadcast_first(v);
  simd_vote vote = simd_ballot(v > 50);
  r[18] = int(uint(static_cast<simd_vote::vote_t>(vote) & 0xFFFFFFFFul));
  r[19] = simd_all(v >= 0) + 2 * simd_any(v > 90) + 4 * simd_all(v > 50);
  r[20] = simd_is_first();
  r[21] = int(uint(ulong(simd_active_threads_mask())));
  r[22] = int(simd_sum(float(v) * 0.5f) * 2.0f);
  r[23] = simd_prefix_inclusive_product(v % 2 + 1);
}

kernel void quad_funcs(device const int* in [[buffer(0)]], device int* out [[buffer(1)]],
                       uint tid [[thread_position_in_grid]],
                       ushort qlane [[thread_index_in_quadgroup]]) {
  int v = in[tid];
  device int* r = out + tid * 10;
  r[0] = quad_sum(v);
  r[1] = quad_min(v);
  r[2] = quad_max(v);
  r[3] = quad_prefix_exclusive_sum(v);
  r[4] = quad_shuffle(v, ushort(3 - qlane));
  r[5] = quad_shuffle_xor(v, 1);
  r[6] = quad_shuffle_up(v, 1);
  r[7] = quad_shuffle_down(v, 1);
  r[8] = quad_broadcast(v, 2);
  r[9] = int(static_cast<quad_vote::vote_t>(quad_ballot(v % 2 == 0)));
}

// Vector and half data through collectives.
kernel void simd_vectors(device const float4* in [[buffer(0)]], device float4* out [[buffer(1)]],
                         device half* hout [[buffer(2)]],
                         uint tid [[thread_position_in_grid]],
                         uint lane [[thread_index_in_simdgroup]]) {
  float4 v = in[tid];
  out[3 * tid] = simd_sum(v);
  out[3 * tid + 1] = simd_max(v);
  out[3 * tid + 2] = simd_shuffle_down(v, 16);
  hout[tid] = simd_sum(half(v.x));
}

// A collective inside a helper called from a loop, with a per-iteration early exit of the loop.
inline float row_sum(device const float* row, uint n, uint lane) {
  float acc = 0.0f;
  for (uint k = lane; k < n; k += 32) acc += row[k];
  return simd_sum(acc);
}
kernel void simd_loop(device const float* in [[buffer(0)]], device float* out [[buffer(1)]],
                      constant uint& n [[buffer(2)]], uint row [[threadgroup_position_in_grid]],
                      uint lane [[thread_index_in_simdgroup]]) {
  float total = 0.0f;
  for (uint rep = 0; rep < 3; ++rep) total += row_sum(in + row * n, n, lane);
  if (lane == 0) out[row] = total / 3.0f;
}

// simdgroup_matrix: load with stride / origin / transpose, multiply, multiply-accumulate, store.
template <typename T>
kernel void sg_matrix(device const T* A [[buffer(0)]], device const T* B [[buffer(1)]],
                      device const T* C [[buffer(2)]], device T* out [[buffer(3)]],
                      device T* out2 [[buffer(4)]], device float* diag [[buffer(5)]],
                      uint lane [[thread_index_in_simdgroup]]) {
  threadgroup T tb[64];
  simdgroup_matrix<T, 8, 8> a, b, c, d;
  simdgroup_load(a, A, 16, ulong2(8, 2));   // 8x8 window at column 8, row 2 of a 16-wide A
  for (uint k = lane; k < 64; k += 32) tb[k] = B[k];
  simdgroup_barrier(mem_flags::mem_threadgroup);
  simdgroup_load(b, tb, 8, ulong2(0, 0), true);   // B transposed, from threadgroup memory
  simdgroup_multiply(c, a, b);
  simdgroup_load(d, C);
  simdgroup_multiply_accumulate(d, a, b, d);
  simdgroup_store(c, out, 16, ulong2(8, 0));
  simdgroup_store(d, out2, 8, ulong2(0, 0), true);
  simdgroup_float8x8 e = simdgroup_float8x8(2.0f);
  simdgroup_float8x8 f = make_filled_simdgroup_matrix<float, 8, 8>(1.0f);
  simdgroup_float8x8 g;
  simdgroup_multiply(g, e, f);
  thread auto& el = g.thread_elements();
  diag[lane * 2] = el[0];
  diag[lane * 2 + 1] = el[1];
}
template [[host_name("sg_matrix_float")]] kernel void sg_matrix<float>(
    device const float*, device const float*, device const float*, device float*, device float*,
    device float*, uint);
template [[host_name("sg_matrix_half")]] kernel void sg_matrix<half>(
    device const half*, device const half*, device const half*, device half*, device half*,
    device float*, uint);
"""


@pytest.fixture(scope="module")
def lib(msl):
    return msl.library(SOURCE, name="simd")


def _simd_expect(v: np.ndarray, active: np.ndarray, tg: int) -> tuple[np.ndarray, np.ndarray]:
    """Expected records and a mask of which fields are defined, per thread."""
    n = len(v)
    rec = np.zeros((n, 24), np.int64)
    defined = np.zeros((n, 24), bool)
    # SIMD groups are 32 consecutive threads of one threadgroup (the last one may be partial).
    starts = [s for g in range(0, n, tg) for s in range(g, min(g + tg, n), 32)]
    for start in starts:
        end = min(start + 32, start - start % tg + tg, n)
        lanes = np.arange(start, end)
        act = lanes[active[lanes]]
        if len(act) == 0:
            continue
        vals = v[act]
        mask = sum(1 << int(t - start) for t in act)
        for t in act:
            lane = t - start
            r = rec[t]
            d = defined[t]
            r[0] = vals.sum()
            r[1] = np.prod(vals % 3 + 1)
            r[2], r[3] = vals.min(), vals.max()
            r[4] = np.bitwise_and.reduce(vals | 0x100)
            r[5] = np.bitwise_or.reduce(vals)
            r[6] = np.bitwise_xor.reduce(vals)
            below = act[act < t]
            r[7] = v[below].sum() + v[t]
            r[8] = v[below].sum()
            r[9] = np.prod(v[below] % 3 + 1)
            d[:10] = True

            def read(src_lane, fallback_own=False, _t=t, start=start, end=end):
                src = start + src_lane
                if 0 <= src_lane < 32 and src < end and active[src]:
                    return v[src], True
                return v[_t], fallback_own

            r[10], d[10] = read(lane ^ 1)
            r[11], d[11] = (v[t], True) if lane < 3 else read(lane - 3)
            r[12], d[12] = (v[t], True) if lane + 2 >= 32 else read(lane + 2)
            r[13], d[13] = read(lane ^ 4)
            r[14], d[14] = read((lane - 5) % 32)
            r[15], d[15] = read((lane + 1) % 32)
            r[16], d[16] = read(3)
            r[17], d[17] = v[act[0]], True
            r[18] = sum(1 << int(a - start) for a in act if v[a] > 50)
            r[19] = int((vals >= 0).all()) + 2 * int((vals > 90).any()) + 4 * int((vals > 50).all())
            r[20] = int(t == act[0])
            r[21] = mask
            r[22] = vals.sum()
            r[23] = np.prod(v[below] % 2 + 1) * (v[t] % 2 + 1)
            d[18:24] = True
    return rec, defined


SIMD_CASES = [
    (64, 64, 0),  # two full SIMD groups
    (40, 40, 0),  # partial last SIMD group (8 lanes)
    (96, 48, 0),  # threadgroups of 48: each has a 16-lane SIMD group
    (64, 64, 7),  # every 7th lane returned early
    (45, 45, 3),  # partial group and early returns
]


@pytest.mark.parametrize("n,tg,skip_every", SIMD_CASES)
def test_simd_functions(msl, lib, n, tg, skip_every):
    rng = np.random.default_rng(n + skip_every)
    v = rng.integers(0, 100, n).astype(np.int32)
    skip = np.zeros(n, np.uint8)
    if skip_every:
        skip[skip_every - 1 :: skip_every] = 1
    out = np.zeros(n * 24, np.int32)
    (_, _, out) = msl.run(lib, "simd_funcs", v, skip, out, grid=(n,), threadgroup=(tg,))
    out = out.reshape(n, 24).astype(np.int64)
    rec, defined = _simd_expect(v.astype(np.int64), skip == 0, tg)
    rec = rec.astype(np.int32).astype(np.int64)  # 32-bit wrap (products, masks)
    names = (
        "sum product min max and or xor incl_sum excl_sum excl_product shuffle shuffle_up "
        "shuffle_down shuffle_xor rotate_up rotate_down broadcast broadcast_first ballot votes "
        "is_first active_mask float_sum incl_product"
    ).split()
    for f, name in enumerate(names):
        m = defined[:, f]
        np.testing.assert_array_equal(out[m, f], rec[m, f], err_msg=name)


def test_quad_functions(msl, lib):
    n = 32
    v = np.random.default_rng(3).integers(0, 100, n).astype(np.int32)
    (_, out) = msl.run(
        lib, "quad_funcs", v, np.zeros(n * 10, np.int32), grid=(n,), threadgroup=(n,)
    )
    out = out.reshape(n, 10)
    q = v.reshape(-1, 4)
    ql = np.arange(n) % 4
    np.testing.assert_array_equal(out[:, 0], np.repeat(q.sum(1), 4))
    np.testing.assert_array_equal(out[:, 1], np.repeat(q.min(1), 4))
    np.testing.assert_array_equal(out[:, 2], np.repeat(q.max(1), 4))
    np.testing.assert_array_equal(out[:, 3], (np.cumsum(q, 1) - q).ravel())
    np.testing.assert_array_equal(out[:, 4], q[:, ::-1].ravel())
    np.testing.assert_array_equal(out[:, 5], q[:, [1, 0, 3, 2]].ravel())
    np.testing.assert_array_equal(out[:, 6], np.where(ql == 0, v, np.roll(v, 1)))
    np.testing.assert_array_equal(out[:, 7], np.where(ql == 3, v, np.roll(v, -1)))
    np.testing.assert_array_equal(out[:, 8], np.repeat(q[:, 2], 4))
    bits = ((q % 2 == 0) * (1 << np.arange(4))).sum(1)
    np.testing.assert_array_equal(out[:, 9], np.repeat(bits, 4))


def test_simd_vectors_and_half(msl, lib):
    n = 64
    v = np.random.default_rng(4).integers(-8, 8, (n, 4)).astype(np.float32)
    (_, out, hout) = msl.run(
        lib,
        "simd_vectors",
        v,
        np.zeros((3 * n, 4), np.float32),
        np.zeros(n, np.float16),
        grid=(n,),
        threadgroup=(n,),
    )
    out = out.reshape(n, 3, 4)
    g = v.reshape(2, 32, 4)
    np.testing.assert_array_equal(out[:, 0], np.repeat(g.sum(1), 32, axis=0))
    np.testing.assert_array_equal(out[:, 1], np.repeat(g.max(1), 32, axis=0))
    lane = np.arange(n) % 32
    down = np.where((lane + 16 < 32)[:, None], np.roll(v, -16, axis=0), v)
    np.testing.assert_array_equal(out[:, 2], down)
    np.testing.assert_array_equal(hout, np.repeat(g[:, :, 0].sum(1), 32).astype(np.float16))


def test_simd_in_helper_in_loop(msl, lib):
    rows, n = 5, 77
    x = np.random.default_rng(5).standard_normal((rows, n)).astype(np.float32)
    (_, out, _) = msl.run(
        lib,
        "simd_loop",
        x,
        np.zeros(rows, np.float32),
        np.uint32(n),
        grid=(rows,),
        threadgroup=(32,),
        dispatch="threadgroups",
    )
    np.testing.assert_allclose(out, x.sum(1), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("tname,dt", [("float", np.float32), ("half", np.float16)])
def test_simdgroup_matrix(msl, lib, tname, dt):
    rng = np.random.default_rng(6)
    A = rng.integers(-3, 4, (10, 16)).astype(dt)
    B = rng.integers(-3, 4, (8, 8)).astype(dt)
    C = rng.integers(-3, 4, (8, 8)).astype(dt)
    out = np.zeros((8, 16), dt)
    out2 = np.zeros((8, 8), dt)
    diag = np.zeros(64, np.float32)
    (_, _, _, out, out2, diag) = msl.run(
        lib, f"sg_matrix_{tname}", A, B, C, out, out2, diag, grid=(32,), threadgroup=(32,)
    )
    a = A[2:10, 8:16].astype(np.float32)
    b = B.T.astype(np.float32)
    np.testing.assert_array_equal(out[:, 8:], (a @ b).astype(dt))
    np.testing.assert_array_equal(out[:, :8], 0)
    np.testing.assert_array_equal(out2, (a @ b + C).T.astype(dt))
    assert np.all(diag == 2.0)
