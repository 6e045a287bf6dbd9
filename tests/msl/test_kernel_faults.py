"""Hardware faults in kernel code on the host device: integer division by zero (SIGFPE on x86), a
wild pointer (SIGSEGV), a fiber stack overflow. Each is a DeviceError naming the kernel and
where it happened, and the context keeps working; faults outside kernels behave as before."""

from __future__ import annotations

import os
import platform
import signal
import subprocess
import sys
import textwrap

import metallic as mt
import numpy as np
import pytest

SOURCE = r"""
#include <metal_stdlib>
using namespace metal;

kernel void idiv(device const int* a [[buffer(0)]], device const int* b [[buffer(1)]],
                 device int* out [[buffer(2)]], uint i [[thread_position_in_grid]]) {
  out[i] = a[i] / b[i];
}

kernel void idiv_barrier(device const int* a [[buffer(0)]], device const int* b [[buffer(1)]],
                         device int* out [[buffer(2)]], uint i [[thread_position_in_grid]],
                         uint t [[thread_position_in_threadgroup]]) {
  threadgroup int shared[64];
  shared[t] = a[i];
  threadgroup_barrier(mem_flags::mem_threadgroup);
  out[i] = shared[t] / b[i];
}

kernel void wild_write(device float* out [[buffer(0)]], constant ulong& offset [[buffer(1)]],
                       uint i [[thread_position_in_grid]]) {
  out[i == 3 ? offset : i] = 1.0f;
}

static int depth(int n, thread const int* prev) {
  int a[16];
  for (int k = 0; k < 16; ++k) a[k] = prev[k] + k;
  return n == 0 ? a[0] : depth(n - 1, a) + a[n & 15];
}

kernel void recursion(device int* out [[buffer(0)]], constant int& n [[buffer(1)]],
                      uint t [[thread_position_in_threadgroup]]) {
  int start[16] = {};
  threadgroup_barrier(mem_flags::mem_threadgroup);
  out[t] = depth(n + int(t), start);
}

kernel void big_local(device float* out [[buffer(0)]], constant uint& n [[buffer(1)]],
                      uint t [[thread_position_in_threadgroup]]) {
  float big[65536];  // 256 KiB: more than a 128 KiB fiber stack
  for (uint k = 0; k < n; ++k) big[k] = float(k + t);
  threadgroup_barrier(mem_flags::mem_threadgroup);
  out[t] = big[(n - 1 - t) % n];
}
"""

x86 = platform.machine().lower() in ("x86_64", "amd64")
needs_trap = pytest.mark.skipif(not x86, reason="integer division by zero traps on x86 only")


@pytest.fixture(scope="module")
def lib(msl):
    return msl.library(SOURCE, name="kernel_faults")


def _context_still_works(msl, lib) -> None:
    a = np.arange(64, dtype=np.int32) * 7
    b = np.full(64, 7, np.int32)
    _, _, out = msl.run(lib, "idiv", a, b, np.zeros(64, np.int32), grid=(64,), threadgroup=(32,))
    np.testing.assert_array_equal(out, np.arange(64))
    x = msl.ctx.tensor(np.arange(8, dtype=np.float32))
    np.testing.assert_allclose(mt.ops.add(x, x).numpy(), 2 * np.arange(8, dtype=np.float32))


@needs_trap
def test_integer_division_by_zero(msl, lib):
    a = np.arange(64, dtype=np.int32)
    b = np.ones(64, np.int32)
    b[37] = 0
    with pytest.raises(mt.DeviceError) as e:
        msl.run(lib, "idiv", a, b, np.zeros(64, np.int32), grid=(64,), threadgroup=(32,))
    msg = str(e.value)
    assert "kernel idiv" in msg and "integer division by zero" in msg
    assert "threadgroup (1,0,0)" in msg
    _context_still_works(msl, lib)


@needs_trap
def test_integer_division_by_zero_with_barriers(msl, lib):
    a = np.arange(64, dtype=np.int32)
    b = np.ones(64, np.int32)
    b[32 + 5] = 0
    with pytest.raises(mt.DeviceError) as e:
        msl.run(lib, "idiv_barrier", a, b, np.zeros(64, np.int32), grid=(64,), threadgroup=(32,))
    msg = str(e.value)
    assert "kernel idiv_barrier" in msg and "integer division by zero" in msg
    assert "threadgroup (1,0,0) thread (5,0,0)" in msg  # fibers know the thread
    _context_still_works(msl, lib)
    # The same kernel still runs correctly (fiber stacks were recycled).
    b[37] = 1
    _, _, out = msl.run(
        lib, "idiv_barrier", a * 3, b * 3, np.zeros(64, np.int32), grid=(64,), threadgroup=(32,)
    )
    np.testing.assert_array_equal(out, a)


@needs_trap
def test_many_faults_in_a_row_on_all_workers(msl, lib):
    # Every worker thread faults (large grid: the dispatch is spread over the pool), many times.
    n = 1 << 16
    a = np.ones(n, np.int32)
    b = np.zeros(n, np.int32)
    for _ in range(20):
        with pytest.raises(mt.DeviceError, match="integer division by zero"):
            msl.run(lib, "idiv", a, b, np.zeros(n, np.int32), grid=(n,), threadgroup=(64,))
    _context_still_works(msl, lib)


@pytest.mark.skipif(
    os.environ.get("METALLIC_HOST_CHECKS", "0") not in ("", "0"),
    reason="with host checks on, the checked kernel reports the write before it faults",
)
def test_wild_write_is_a_device_error(msl, lib):
    with pytest.raises(mt.DeviceError) as e:
        msl.run(
            lib,
            "wild_write",
            np.zeros(8, np.float32),
            np.uint64(1 << 40),
            grid=(8,),
            threadgroup=(8,),
        )
    msg = str(e.value)
    assert "kernel wild_write" in msg and "invalid memory access" in msg
    assert "METALLIC_HOST_CHECKS=1" in msg and "threadgroup (0,0,0)" in msg
    _context_still_works(msl, lib)


def test_wild_write_with_host_checks_names_buffer():
    ctx = mt.Context(device="host", host_checks=True)
    lib = mt.compile_library(SOURCE, name="kernel_faults")
    out = ctx.tensor(np.zeros(8, np.float32))
    fn = lib.function("wild_write")
    with pytest.raises(mt.DeviceError, match="wild_write"):
        fn(out, np.uint64(1 << 40), grid=(8,), threadgroup=(8,), ctx=ctx)
        out.numpy()


def test_deep_recursion_overflows_a_fiber_stack(msl, lib):
    with pytest.raises(mt.DeviceError) as e:
        msl.run(lib, "recursion", np.zeros(32, np.int32), np.int32(1 << 20), grid=(32,),
                threadgroup=(32,))  # fmt: skip
    msg = str(e.value)
    assert "kernel recursion" in msg and "stack overflow" in msg
    assert "METALLIC_HOST_FIBER_STACK" in msg and "thread (0,0,0)" in msg
    _context_still_works(msl, lib)
    (out, _) = msl.run(lib, "recursion", np.zeros(4, np.int32), np.int32(3), grid=(4,),
                       threadgroup=(4,))  # fmt: skip
    assert out.tolist() == [_depth(3 + t) for t in range(4)]


def _depth(n: int) -> int:
    def rec(n: int, prev: list[int]) -> int:
        a = [prev[k] + k for k in range(16)]
        return a[0] if n == 0 else rec(n - 1, a) + a[n & 15]

    return rec(n, [0] * 16)


def test_large_local_array_overflows_a_fiber_stack(msl, lib):
    with pytest.raises(mt.DeviceError) as e:
        msl.run(lib, "big_local", np.zeros(32, np.float32), np.uint32(65536), grid=(32,),
                threadgroup=(32,))  # fmt: skip
    msg = str(e.value)
    assert "kernel big_local" in msg and "stack overflow" in msg
    assert "METALLIC_HOST_FIBER_STACK" in msg
    _context_still_works(msl, lib)


def test_normal_runs_are_unaffected(msl, lib):
    a = np.arange(-500, 524, dtype=np.int32)
    b = np.arange(1, 1025, dtype=np.int32)
    for name in ("idiv", "idiv_barrier"):
        _, _, out = msl.run(
            lib, name, a, b, np.zeros(1024, np.int32), grid=(1024,), threadgroup=(32,)
        )
        np.testing.assert_array_equal(out, np.trunc(a / b).astype(np.int32))


# Faults outside kernels go to the previous disposition, after the handler was installed (a
# kernel ran): the default action, or Python's faulthandler. In a subprocess.
_OUTSIDE = textwrap.dedent(
    """
    import ctypes, faulthandler, sys
    import numpy as np
    import metallic as mt
    if sys.argv[1] == "faulthandler":
        faulthandler.enable()
    ctx = mt.Context(device="host")
    x = ctx.tensor(np.arange(4, dtype=np.float32))
    assert mt.ops.add(x, x).numpy().tolist() == [0, 2, 4, 6]
    lib = mt.compile_library(sys.argv[2], name="kernel_faults")
    a = ctx.tensor(np.ones(4, np.int32))
    try:
        lib.function("idiv")(a, ctx.tensor(np.zeros(4, np.int32)), a, grid=(4,), threadgroup=(4,),
                             ctx=ctx)
        a.numpy()
    except mt.DeviceError:
        pass
    print("faulting outside a kernel", flush=True)
    ctypes.string_at(1)
    """
)


@pytest.mark.not_under_asan("its SEGV handler is the previous disposition, so the process exits 1")
@pytest.mark.parametrize("mode", ["default", "faulthandler"])
def test_faults_outside_kernels_are_untouched(mode):
    env = dict(os.environ)
    proc = subprocess.run(
        [sys.executable, "-c", _OUTSIDE, mode, SOURCE],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert "faulting outside a kernel" in proc.stdout, proc.stderr
    assert proc.returncode == -signal.SIGSEGV, (proc.returncode, proc.stderr)
    if mode == "faulthandler":
        assert "Fatal Python error: Segmentation fault" in proc.stderr
    else:
        assert "Fatal Python error" not in proc.stderr
