"""Address spaces (device, constant, thread, threadgroup) on pointers and references in kernel
parameters, locals and helpers; constant structs; program-scope constants; threadgroup memory
declared in the body and as [[threadgroup(i)]] parameters; barriers."""

from __future__ import annotations

import numpy as np
import pytest

SOURCE = r"""
#include <metal_stdlib>
using namespace metal;

struct Params {
  uint n;
  float scale;
  float2 offset;   // 8-byte aligned: the struct is 16 bytes
  int3 shape;      // 16-byte aligned int3: offset 16, struct size 32
};

constant float kTable[4] = {1.0f, 10.0f, 100.0f, 1000.0f};
constant int kCount = 3;
constant constexpr uint kMask = 0xF0u;
static constant constexpr float kHalfScale = 0.5f;
constant float2 kPair = float2(3.0f, 4.0f);
constant Params kDefaults = {7u, 2.0f, float2(0.0f), int3(1)};

inline float load_device(device const float* p, uint i) { return p[i]; }
inline float load_constant(constant float* p, uint i) { return p[i]; }
inline void store_device(device float& r, float v) { r = v; }
inline void bump(thread float& x) { x += 1.0f; }
inline void bump_ptr(thread float* x) { *x *= 2.0f; }
inline float read_tg(threadgroup const float* p, uint i) { return p[i]; }
inline void write_tg(threadgroup float& r, float v) { r = v; }
METAL_FUNC float scaled(constant Params& p, float x) { return x * p.scale; }

kernel void spaces(device const float* in [[buffer(0)]], constant float* table [[buffer(1)]],
                   device float* out [[buffer(2)]], constant Params& p [[buffer(3)]],
                   uint i [[thread_position_in_grid]], uint l [[thread_position_in_threadgroup]],
                   uint tgsize [[threads_per_threadgroup]]) {
  threadgroup float tg[64];
  float x = load_device(in, i) + load_constant(table, i % 4);
  bump(x);
  float y = x;
  bump_ptr(&y);
  thread float* py = &y;
  *py += 0.5f;
  write_tg(tg[l], y);
  threadgroup_barrier(mem_flags::mem_threadgroup);
  float nb = read_tg(tg, (l + 1) % tgsize);
  if (i >= p.n) return;
  device float& dst = out[i];
  store_device(dst, scaled(p, nb) + p.offset.y + float(p.shape.z));
}

kernel void program_scope(device float* out [[buffer(0)]], uint i [[thread_position_in_grid]]) {
  out[i] = kTable[i % kCount] + float(kMask >> 4) * kHalfScale + kPair.y + float(kDefaults.n);
}

// Inline bytes of a struct (setBytes) and a constant buffer of structs.
struct Item {
  float a;
  int b;
};
kernel void structs(constant Item* items [[buffer(0)]], constant Params& p [[buffer(1)]],
                    device float* out [[buffer(2)]], uint i [[thread_position_in_grid]]) {
  constant Item& it = items[i];
  out[i] = it.a * float(it.b) + p.scale + float(p.shape.x);
}

// Threadgroup memory as [[threadgroup(i)]] parameters (sizes from the encoder) and a 2-D array
// declared in the body; two arrays so the threadgroup index is honoured.
kernel void tg_params(device const float* in [[buffer(0)]], device float* out [[buffer(1)]],
                      threadgroup float* a [[threadgroup(0)]],
                      threadgroup int* b [[threadgroup(1)]],
                      uint i [[thread_position_in_grid]],
                      uint l [[thread_index_in_threadgroup]],
                      uint n [[threads_per_threadgroup]]) {
  threadgroup float grid2[4][16];
  a[l] = in[i];
  b[l] = int(l) * 3;
  grid2[l / 16][l % 16] = float(l);
  threadgroup_barrier(mem_flags::mem_threadgroup);
  uint r = n - 1 - l;
  out[i] = a[r] + float(b[r]) + grid2[r / 16][r % 16];
}

// Threadgroup memory is private to each threadgroup: every group sums its own slice.
kernel void tg_private(device const uint* in [[buffer(0)]], device uint* out [[buffer(1)]],
                       uint i [[thread_position_in_grid]], uint l [[thread_position_in_threadgroup]],
                       uint g [[threadgroup_position_in_grid]]) {
  threadgroup atomic_uint total;
  threadgroup uint scratch[32];
  if (l == 0) atomic_store_explicit(&total, 0u, memory_order_relaxed);
  scratch[l] = in[i];
  threadgroup_barrier(mem_flags::mem_threadgroup);
  atomic_fetch_add_explicit(&total, scratch[31 - l], memory_order_relaxed);
  threadgroup_barrier(mem_flags::mem_threadgroup);
  if (l == 0) out[g] = atomic_load_explicit(&total, memory_order_relaxed);
}

// Threadgroup declarations in a helper function and a struct in threadgroup memory.
struct Acc {
  float sum;
  uint count;
};
template <typename T>
T tg_sum(T v, uint l, uint n) {
  threadgroup T partial[128];
  partial[l] = v;
  threadgroup_barrier(mem_flags::mem_threadgroup);
  T s = 0;
  for (uint k = 0; k < n; ++k) s += partial[k];
  threadgroup_barrier(mem_flags::mem_threadgroup);
  return s;
}
kernel void tg_helper(device const float* in [[buffer(0)]], device float* out [[buffer(1)]],
                      uint i [[thread_position_in_grid]], uint l [[thread_index_in_threadgroup]],
                      uint n [[threads_per_threadgroup]]) {
  threadgroup Acc acc;
  if (l == 0) {
    acc.sum = 0.0f;
    acc.count = 0;
  }
  threadgroup_barrier(mem_flags::mem_threadgroup);
  float s = tg_sum(in[i], l, n);
  float s2 = tg_sum(in[i] * 2.0f, l, n);
  if (l == n - 1) {
    acc.sum = s + s2;
    acc.count = n;
  }
  threadgroup_barrier(mem_flags::mem_threadgroup);
  out[i] = acc.sum / float(acc.count);
}

// Multiple declarators, threadgroup pointer locals, barrier with combined flags.
kernel void tg_multi(device float* out [[buffer(0)]], uint l [[thread_index_in_threadgroup]]) {
  threadgroup float x[8], y[8];
  threadgroup float* px = x;
  threadgroup float* py = &y[0];
  px[l] = float(l);
  py[l] = float(10 * l);
  threadgroup_barrier(mem_flags::mem_device | mem_flags::mem_threadgroup);
  out[l] = x[7 - l] + y[(l + 1) % 8];
}
"""


@pytest.fixture(scope="module")
def lib(msl):
    return msl.library(SOURCE, name="memory")


def _params(
    n: int, scale: float, offset: tuple[float, float], shape: tuple[int, int, int]
) -> bytes:
    rec = np.zeros(
        1,
        np.dtype(
            {
                "names": ["n", "scale", "ox", "oy", "shape"],
                "formats": ["<u4", "<f4", "<f4", "<f4", "(3,)<i4"],
                "offsets": [0, 4, 8, 12, 16],
                "itemsize": 32,
            }
        ),
    )
    rec["n"], rec["scale"], rec["ox"], rec["oy"], rec["shape"] = n, scale, *offset, shape
    return rec.tobytes()


def test_address_spaces(msl, lib):
    n, tg = 50, 16
    x = np.arange(n, dtype=np.float32)
    table = np.array([1, 2, 3, 4], np.float32)
    out = np.full(n, -1, np.float32)
    (_, _, out, _) = msl.run(
        lib,
        "spaces",
        x,
        table,
        out,
        _params(45, 3.0, (0.0, 0.25), (0, 0, 5)),
        grid=(n,),
        threadgroup=(tg,),
    )
    y = ((x + table[np.arange(n) % 4]) + 1) * 2 + 0.5
    idx = np.arange(n)
    start = idx // tg * tg
    size = np.minimum(tg, n - start)
    nb = y[start + (idx - start + 1) % size]
    expect = nb * 3 + 0.25 + 5
    np.testing.assert_allclose(out[:45], expect[:45], rtol=1e-6)
    assert (out[45:] == -1).all()


def test_program_scope_constants(msl, lib):
    (out,) = msl.run(lib, "program_scope", np.zeros(6, np.float32), grid=(6,), threadgroup=(6,))
    np.testing.assert_array_equal(out, np.array([1, 10, 100] * 2) + 7.5 + 4 + 7)


def test_constant_structs(msl, lib):
    items = np.zeros(5, np.dtype([("a", "<f4"), ("b", "<i4")]))
    items["a"] = np.arange(5) + 0.5
    items["b"] = np.arange(5) * 2
    (_, _, out) = msl.run(
        lib,
        "structs",
        items,
        _params(0, 1.5, (0, 0), (10, 0, 0)),
        np.zeros(5, np.float32),
        grid=(5,),
        threadgroup=(2,),
    )
    np.testing.assert_allclose(out, items["a"] * items["b"] + 1.5 + 10)


def test_threadgroup_parameters(msl, lib):
    n, tg = 128, 64
    x = np.random.default_rng(1).standard_normal(n).astype(np.float32)
    (_, out) = msl.run(
        lib,
        "tg_params",
        x,
        np.zeros(n, np.float32),
        grid=(n,),
        threadgroup=(tg,),
        threadgroup_memory={0: tg * 4, 1: tg * 4},
    )
    lid = np.arange(n) % tg
    r = tg - 1 - lid
    np.testing.assert_allclose(out, x[np.arange(n) - lid + r] + 3 * r + r)


def test_threadgroup_memory_is_per_group(msl, lib):
    groups = 9
    x = np.arange(32 * groups, dtype=np.uint32)
    (_, out) = msl.run(
        lib, "tg_private", x, np.zeros(groups, np.uint32), grid=(32 * groups,), threadgroup=(32,)
    )
    np.testing.assert_array_equal(out, x.reshape(groups, 32).sum(1))


def test_threadgroup_in_helpers_and_structs(msl, lib):
    n, tg = 100, 32  # last group is partial (4 threads)
    x = np.random.default_rng(2).standard_normal(n).astype(np.float32)
    (_, out) = msl.run(lib, "tg_helper", x, np.zeros(n, np.float32), grid=(n,), threadgroup=(tg,))
    expect = np.concatenate(
        [np.full(len(c), 3 * c.sum() / len(c)) for c in np.split(x, range(tg, n, tg))]
    )
    np.testing.assert_allclose(out, expect, rtol=1e-5, atol=1e-6)


def test_threadgroup_multiple_declarators(msl, lib):
    (out,) = msl.run(lib, "tg_multi", np.zeros(8, np.float32), grid=(8,), threadgroup=(8,))
    lid = np.arange(8)
    np.testing.assert_array_equal(out, (7 - lid) + 10 * ((lid + 1) % 8))
