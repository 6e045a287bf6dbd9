"""Host debug checks (mt.Context(host_checks=True), METALLIC_HOST_CHECKS=1): out-of-range
device-buffer accesses and reads of uninitialised threadgroup memory are a DeviceError naming
the kernel, the buffer index or threadgroup variable, the element and the thread."""

from __future__ import annotations

import metallic as mt
import numpy as np
import pytest

SOURCE = r"""
#include <metal_stdlib>
using namespace metal;

struct Params { uint n; float scale; };

kernel void write_past(device float* out [[buffer(0)]], uint i [[thread_position_in_grid]]) {
  out[i + 1] = float(i);
}

inline float load(device const float* p, int i) { return p[i]; }

kernel void read_before(device float* out [[buffer(0)]], device const float* in [[buffer(1)]],
                        uint i [[thread_position_in_grid]]) {
  out[i] = load(in, int(i) - 1);
}

kernel void pointer_walk(device float* out [[buffer(0)]], constant Params& p [[buffer(1)]],
                         uint i [[thread_position_in_grid]]) {
  device float* row = out + i * 4;
  for (uint k = 0; k < p.n; ++k) {
    *row++ = p.scale;
  }
}

kernel void uninitialised(device float* out [[buffer(0)]],
                          uint l [[thread_position_in_threadgroup]],
                          uint i [[thread_position_in_grid]]) {
  threadgroup float shared[32];
  if (l != 5) shared[l] = float(l);
  threadgroup_barrier(mem_flags::mem_threadgroup);
  out[i] = shared[(l + 1) % 32];
}

kernel void uninitialised_dynamic(device float* out [[buffer(0)]],
                                  threadgroup float4* scratch [[threadgroup(0)]],
                                  uint l [[thread_position_in_threadgroup]],
                                  uint i [[thread_position_in_grid]]) {
  scratch[l].x = 1.0f;  // a partial write counts for the whole element
  threadgroup_barrier(mem_flags::mem_threadgroup);
  out[i] = scratch[l + 1].x;
}

// Every element written before it is read: no fault, and the right sums.
kernel void reduce(device const float* in [[buffer(0)]], device float* out [[buffer(1)]],
                   threadgroup float* dyn [[threadgroup(0)]],
                   uint l [[thread_position_in_threadgroup]],
                   uint g [[threadgroup_position_in_grid]],
                   uint n [[threads_per_threadgroup]]) {
  threadgroup float partial[64];
  threadgroup float total;
  threadgroup atomic_uint count;
  partial[l] = in[g * n + l];
  dyn[l] = 2.0f * in[g * n + l];
  if (l == 0) {
    total = 0.0f;
    atomic_store_explicit(&count, 0u, memory_order_relaxed);
  }
  threadgroup_barrier(mem_flags::mem_threadgroup);
  atomic_fetch_add_explicit(&count, 1u, memory_order_relaxed);
  for (uint s = n / 2; s > 0; s >>= 1) {
    if (l < s) {
      partial[l] += partial[l + s];
      dyn[l] += dyn[l + s];
    }
    threadgroup_barrier(mem_flags::mem_threadgroup);
  }
  if (l == 0) {
    total += partial[0];
    out[2 * g] = total;
    out[2 * g + 1] = dyn[0] + float(atomic_load_explicit(&count, memory_order_relaxed));
  }
}

kernel void small_constant(device float* out [[buffer(0)]], constant Params& p [[buffer(1)]],
                           uint i [[thread_position_in_grid]]) {
  out[i] = p.scale;
}
"""


@pytest.fixture(scope="module")
def lib() -> mt.Library:
    return mt.compile_library(SOURCE, name="host_checks")


@pytest.fixture(scope="module")
def cctx() -> mt.Context:
    return mt.Context(device="host", host_checks=True)


def _fault(ctx: mt.Context, fn: mt.Function, *args: object, **kw: object) -> str:
    fn(*args, ctx=ctx, **kw)  # type: ignore[arg-type]
    with pytest.raises(mt.DeviceError) as e:
        ctx.synchronize()
    return str(e.value)


def test_context_reports_checks(cctx: mt.Context, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("METALLIC_HOST_CHECKS", raising=False)
    assert cctx.host_checks
    assert cctx.device_info()["host_checks"] == "true"
    assert not mt.Context(device="host").host_checks


def test_write_past_the_end(cctx: mt.Context, lib: mt.Library) -> None:
    out = cctx.zeros(8)
    msg = _fault(cctx, lib.function("write_past"), out, grid=(8,), threadgroup=(4,))
    assert "kernel write_past" in msg
    assert "out-of-range write" in msg and "[[buffer(0)]] element 8" in msg
    assert "it holds 8 elements of 4 bytes" in msg
    assert "threadgroup (1,0,0) thread (3,0,0)" in msg


def test_read_before_the_start_in_a_helper(cctx: mt.Context, lib: mt.Library) -> None:
    out, x = cctx.zeros(4), cctx.tensor(np.arange(4, dtype=np.float32))
    fn = lib.function("read_before")
    fn(out, x, grid=(4,), threadgroup=(4,), ctx=cctx)
    with pytest.raises(mt.DeviceError) as e:
        out.numpy()  # raised when the result is read
    msg = str(e.value)
    assert "kernel read_before" in msg and "threadgroup (0,0,0) thread (0,0,0)" in msg
    assert "out-of-range read" in msg and "[[buffer(1)]] element -1" in msg


def test_pointer_arithmetic_is_checked(cctx: mt.Context, lib: mt.Library) -> None:
    fn = lib.function("pointer_walk")
    params = np.array([(4, 1.5)], dtype=[("n", "<u4"), ("scale", "<f4")])
    out = cctx.zeros(8)
    fn(out, params, grid=(2,), threadgroup=(2,), ctx=cctx)
    np.testing.assert_array_equal(out.numpy(), 1.5)
    params["n"] = 5
    msg = _fault(cctx, fn, cctx.zeros(8), params, grid=(2,), threadgroup=(2,))
    assert "pointer_walk" in msg and "[[buffer(0)]] element 8" in msg and "thread (1,0,0)" in msg


def test_uninitialised_threadgroup_variable(cctx: mt.Context, lib: mt.Library) -> None:
    msg = _fault(cctx, lib.function("uninitialised"), cctx.zeros(32), grid=(32,), threadgroup=(32,))
    assert "kernel uninitialised" in msg
    assert "read of uninitialised threadgroup memory" in msg
    assert "threadgroup variable 'shared' element 5" in msg
    assert "threadgroup (0,0,0) thread (4,0,0)" in msg


def test_uninitialised_threadgroup_buffer_and_its_bounds(cctx: mt.Context, lib: mt.Library) -> None:
    fn = lib.function("uninitialised_dynamic")
    # 16 threads, room for 17 float4: element 16 is in range but nobody wrote it.
    msg = _fault(
        cctx, fn, cctx.zeros(16), grid=(16,), threadgroup=(16,), threadgroup_memory={0: 17 * 16}
    )
    assert "uninitialised" in msg and "[[threadgroup(0)]] element 16" in msg
    assert "thread (15,0,0)" in msg
    # Room for exactly 16: element 16 is out of range.
    msg = _fault(
        cctx, fn, cctx.zeros(16), grid=(16,), threadgroup=(16,), threadgroup_memory={0: 16 * 16}
    )
    assert "out-of-range read" in msg and "[[threadgroup(0)]] element 16" in msg


def test_checked_reduction_is_correct(cctx: mt.Context, lib: mt.Library) -> None:
    x = np.random.default_rng(0).standard_normal(4 * 64).astype(np.float32)
    out = cctx.zeros(8)
    lib.function("reduce")(
        cctx.tensor(x),
        out,
        grid=(4 * 64,),
        threadgroup=(64,),
        threadgroup_memory={0: 64 * 4},
        ctx=cctx,
    )
    got = out.numpy().reshape(4, 2)
    sums = x.reshape(4, 64).sum(axis=1)
    np.testing.assert_allclose(got[:, 0], sums, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(got[:, 1], 2 * sums + 64, rtol=1e-5, atol=1e-4)


def test_constant_reference_must_fit(cctx: mt.Context, lib: mt.Library) -> None:
    # Checked when encoded, against the parameter's type (with or without host checks).
    fn = lib.function("small_constant")
    with pytest.raises(mt.ArgumentError, match=r"\[\[buffer\(1\)\]\].*needs 8 bytes; got 4"):
        fn(cctx.zeros(4), np.uint32(3), grid=(4,), threadgroup=(4,), ctx=cctx)


def test_context_stays_usable_after_a_fault(cctx: mt.Context, lib: mt.Library) -> None:
    _fault(cctx, lib.function("write_past"), cctx.zeros(4), grid=(4,), threadgroup=(4,))
    out = cctx.zeros(5)
    lib.function("write_past")(out, grid=(4,), threadgroup=(4,), ctx=cctx)
    np.testing.assert_array_equal(out.numpy(), [0, 0, 1, 2, 3])


def test_unchecked_context_does_not_check(lib: mt.Library, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("METALLIC_HOST_CHECKS", raising=False)
    ctx = mt.Context(device="host")
    assert not ctx.host_checks
    base = ctx.zeros(8)
    view = base[:5]  # element 5 is outside the view, inside its buffer
    # Without checks nothing bounds the view: the write past it lands in base[5].
    lib.function("write_past")(view, grid=(5,), threadgroup=(5,), ctx=ctx)
    np.testing.assert_array_equal(base.numpy(), [0, 0, 1, 2, 3, 4, 0, 0])
    # A checked context bounds the same write by the view.
    cctx = mt.Context(device="host", host_checks=True)
    cbase = cctx.zeros(8)
    msg = _fault(cctx, lib.function("write_past"), cbase[:5], grid=(5,), threadgroup=(5,))
    assert "element 5" in msg


def test_environment_variable_turns_checks_on(
    monkeypatch: pytest.MonkeyPatch, lib: mt.Library
) -> None:
    monkeypatch.setenv("METALLIC_HOST_CHECKS", "1")
    ctx = mt.Context(device="host")
    assert ctx.host_checks
    msg = _fault(ctx, lib.function("write_past"), ctx.zeros(8), grid=(8,), threadgroup=(8,))
    assert "out-of-range write" in msg and "[[buffer(0)]] element 8" in msg


def test_builtin_ops_run_checked(cctx: mt.Context) -> None:
    a = np.arange(10, dtype=np.float32)
    b = np.arange(10, dtype=np.float32)[::-1].copy()
    got = mt.ops.add(cctx.tensor(a), cctx.tensor(b)).numpy()
    np.testing.assert_array_equal(got, a + b)


def test_nested_subscripts_are_checked(cctx: mt.Context) -> None:
    """A gather (`out[i] = x[idx[i]]`, as in an embedding lookup) through nested subscripts."""
    lib = mt.compile_library(
        """
#include <metal_stdlib>
using namespace metal;
kernel void gather(device const float* x [[buffer(0)]], device const uint* idx [[buffer(1)]],
                   device float* out [[buffer(2)]], uint i [[thread_position_in_grid]]) {
  out[idx[i]] = x[idx[i]] * 2.0;
}
""",
        name="gather_nested",
    )
    x = cctx.tensor(np.arange(8, dtype=np.float32))
    out = cctx.zeros(8)
    idx = cctx.tensor(np.array([7, 0, 3, 1], np.uint32))
    lib.function("gather")(x, idx, out, grid=(4,), threadgroup=(4,))
    expected = np.zeros(8, np.float32)
    expected[[7, 0, 3, 1]] = np.array([7, 0, 3, 1], np.float32) * 2
    np.testing.assert_array_equal(out.numpy(), expected)
    bad = cctx.tensor(np.array([7, 0, 9, 1], np.uint32))
    lib.function("gather")(x, bad, out, grid=(4,), threadgroup=(4,))
    with pytest.raises(mt.DeviceError, match=r"out-of-range read: \[\[buffer\(0\)\]\] element 9"):
        cctx.synchronize()
