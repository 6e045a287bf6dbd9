"""Atomics on device and threadgroup memory: int, uint, float; fetch_add/sub/min/max/and/or/xor,
exchange, load/store, compare_exchange_weak loops."""

from __future__ import annotations

import numpy as np
import pytest

SOURCE = r"""
#include <metal_stdlib>
using namespace metal;

kernel void device_atomics(device atomic_int* ints [[buffer(0)]],
                           device atomic_uint* uints [[buffer(1)]],
                           device atomic_float* floats [[buffer(2)]],
                           device const int* v [[buffer(3)]],
                           device int* olds [[buffer(4)]],
                           uint i [[thread_position_in_grid]]) {
  int x = v[i];
  atomic_fetch_add_explicit(&ints[0], x, memory_order_relaxed);
  atomic_fetch_sub_explicit(&ints[1], x, memory_order_relaxed);
  atomic_fetch_min_explicit(&ints[2], x, memory_order_relaxed);
  atomic_fetch_max_explicit(&ints[3], x, memory_order_relaxed);
  atomic_fetch_and_explicit(&uints[0], ~(1u << (i % 32)), memory_order_relaxed);
  atomic_fetch_or_explicit(&uints[1], 1u << (i % 32), memory_order_relaxed);
  atomic_fetch_xor_explicit(&uints[2], uint(x), memory_order_relaxed);
  atomic_fetch_max_explicit(&uints[3], uint(x) * 3u, memory_order_relaxed);
  atomic_fetch_min_explicit(&uints[4], uint(x) + 7u, memory_order_relaxed);
  atomic_fetch_add_explicit(&floats[0], 0.5f, memory_order_relaxed);
  atomic_fetch_sub_explicit(&floats[1], 0.25f, memory_order_relaxed);
  // A unique ticket per thread.
  olds[i] = atomic_fetch_add_explicit(&ints[4], 1, memory_order_relaxed);
  // compare_exchange_weak loop: float max.
  float cur = atomic_load_explicit(&floats[2], memory_order_relaxed);
  float want = float(x) * 0.5f;
  while (want > cur &&
         !atomic_compare_exchange_weak_explicit(&floats[2], &cur, want, memory_order_relaxed,
                                                memory_order_relaxed)) {
  }
  if (i == 0) {
    int prev = atomic_exchange_explicit(&ints[5], 42, memory_order_relaxed);
    atomic_store_explicit(&ints[6], prev + 1, memory_order_relaxed);
  }
}

// Threadgroup atomics: per-group counters, then one device atomic per group.
kernel void tg_atomics(device const uint* v [[buffer(0)]], device atomic_uint* total [[buffer(1)]],
                       device uint* per_group [[buffer(2)]],
                       uint i [[thread_position_in_grid]], uint l [[thread_index_in_threadgroup]],
                       uint g [[threadgroup_position_in_grid]]) {
  threadgroup atomic_uint count;
  threadgroup atomic_int imax;
  if (l == 0) {
    atomic_store_explicit(&count, 0u, memory_order_relaxed);
    atomic_store_explicit(&imax, -1, memory_order_relaxed);
  }
  threadgroup_barrier(mem_flags::mem_threadgroup);
  atomic_fetch_add_explicit(&count, v[i], memory_order_relaxed);
  atomic_fetch_max_explicit(&imax, int(v[i]), memory_order_relaxed);
  threadgroup_barrier(mem_flags::mem_threadgroup);
  if (l == 0) {
    uint c = atomic_load_explicit(&count, memory_order_relaxed);
    per_group[2 * g] = c;
    per_group[2 * g + 1] = uint(atomic_load_explicit(&imax, memory_order_relaxed));
    atomic_fetch_add_explicit(total, c, memory_order_relaxed);
  }
}

// A plain uint buffer reinterpreted as atomics (as MLX does with device atomic<uint>*).
kernel void cast_atomics(device uint* counts [[buffer(0)]], device const uint* bins [[buffer(1)]],
                         uint i [[thread_position_in_grid]]) {
  device atomic<uint>* c = (device atomic<uint>*)counts;
  atomic_fetch_add_explicit(c + bins[i], 1u, memory_order_relaxed);
}
"""


@pytest.fixture(scope="module")
def lib(msl):
    return msl.library(SOURCE, name="atomics")


def test_device_atomics(msl, lib):
    n = 1000  # many threadgroups, run on several OS threads
    v = np.random.default_rng(1).integers(-100, 100, n).astype(np.int32)
    ints = np.array([0, 0, 1 << 30, -(1 << 30), 0, 7, 0], np.int32)
    uints = np.array([0xFFFFFFFF, 0, 0, 0, 0xFFFFFFFF], np.uint32)
    floats = np.array([0, 0, -1e30], np.float32)
    (ints, uints, floats, _, olds) = msl.run(
        lib,
        "device_atomics",
        ints,
        uints,
        floats,
        v,
        np.zeros(n, np.int32),
        grid=(n,),
        threadgroup=(32,),
    )
    assert ints[0] == v.sum() and ints[1] == -v.sum()
    assert ints[2] == v.min() and ints[3] == v.max() and ints[4] == n
    assert ints[5] == 42 and ints[6] == 8
    assert uints[0] == 0 and uints[1] == 0xFFFFFFFF
    assert uints[2] == np.bitwise_xor.reduce(v.view(np.uint32))
    assert uints[3] == (v.view(np.uint32) * np.uint32(3)).max()
    assert uints[4] == (v.view(np.uint32) + np.uint32(7)).min()
    assert floats[0] == 0.5 * n and floats[1] == -0.25 * n
    assert floats[2] == v.max() * 0.5
    np.testing.assert_array_equal(np.sort(olds), np.arange(n))


def test_threadgroup_atomics(msl, lib):
    n, tg = 500, 64
    v = np.random.default_rng(2).integers(0, 50, n).astype(np.uint32)
    groups = (n + tg - 1) // tg
    (_, total, per) = msl.run(
        lib,
        "tg_atomics",
        v,
        np.zeros(1, np.uint32),
        np.zeros(2 * groups, np.uint32),
        grid=(n,),
        threadgroup=(tg,),
    )
    chunks = np.split(v, range(tg, n, tg))
    assert total[0] == v.sum()
    np.testing.assert_array_equal(per[0::2], [c.sum() for c in chunks])
    np.testing.assert_array_equal(per[1::2], [c.max() for c in chunks])


def test_atomic_cast_histogram(msl, lib):
    bins = np.random.default_rng(3).integers(0, 10, 3000).astype(np.uint32)
    (counts, _) = msl.run(
        lib, "cast_atomics", np.zeros(10, np.uint32), bins, grid=(3000,), threadgroup=(128,)
    )
    np.testing.assert_array_equal(counts, np.bincount(bins, minlength=10))
