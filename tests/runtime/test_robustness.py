"""What used to crash, hang or silently give a wrong answer: each is now an error that says what to
change, and the process (and, where it can be, the context) carries on."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time

import metallic as mt
import numpy as np
import pytest

SPIN = """
#include <metal_stdlib>
using namespace metal;
// Never ends while flag[0] == 0 (the atomic load keeps the compiler from assuming it does).
kernel void spin(device atomic_uint* flag [[buffer(0)]], uint i [[thread_position_in_grid]]) {
  while (atomic_load_explicit(flag, memory_order_relaxed) == 0u) { }
}
// The same with a barrier in the loop: its threads run as fibers.
kernel void spin_barrier(device atomic_uint* flag [[buffer(0)]],
                         uint i [[thread_position_in_grid]]) {
  while (atomic_load_explicit(flag, memory_order_relaxed) == 0u) {
    threadgroup_barrier(mem_flags::mem_none);
  }
}
kernel void fill(device float* y [[buffer(0)]], constant float& v [[buffer(1)]],
                 uint i [[thread_position_in_grid]]) {
  y[i] = v;
}
kernel void read_one(device const float* x [[buffer(0)]], device float* y [[buffer(1)]],
                     constant uint& at [[buffer(2)]], uint i [[thread_position_in_grid]]) {
  y[0] = x[at];
}
"""


@pytest.fixture(scope="module")
def lib() -> mt.Library:
    return mt.compile_library(SPIN, name="robustness", ctx=mt.Context(device="host"))


def _still_works(ctx: mt.Context) -> None:
    a = ctx.tensor(np.arange(5, dtype=np.float32))
    np.testing.assert_array_equal(mt.ops.add(a, a).numpy(), np.arange(5) * 2)


def test_pop_scope_without_a_scope_is_an_error(ctx: mt.Context) -> None:
    with pytest.raises(mt.ArgumentError, match="pop_scope.. without a scope"):
        ctx.pop_scope()
    with ctx.scope("a"):
        pass
    with pytest.raises(mt.ArgumentError):
        ctx.pop_scope()
    _still_works(ctx)


@pytest.mark.parametrize("shape", [(2**32, 2**32), (2**62, 4), (2**61, 4), (2**40, 2**20, 2**10)])
def test_shapes_whose_size_overflows_are_errors(ctx: mt.Context, shape: tuple[int, ...]) -> None:
    # (2**32, 2**32) used to give a tensor of size 0; a kernel writing a (2**62, 4) one crashed.
    with pytest.raises(mt.ShapeError, match="more than 2\\^63 bytes"):
        ctx.zeros(shape)
    with pytest.raises(mt.ShapeError, match="more than 2\\^63 bytes"):
        ctx.empty(shape, "f16")
    t = ctx.zeros(4)
    with pytest.raises(mt.ShapeError, match="more than 2\\^63 bytes|cannot reshape"):
        t.reshape(*shape)
    assert ctx.zeros((2**62, 0)).size == 0  # empty, however large its other dimensions
    _still_works(ctx)


def test_host_allocation_failure_is_a_device_error() -> None:
    ctx = mt.Context(device="host")
    with pytest.raises(mt.DeviceError, match="out of memory"):
        ctx.empty(2**62, "u8")
    _still_works(ctx)


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda c: c.empty(2**64), mt.ShapeError, "larger than 2\\^63-1"),
        (lambda c: c.zeros((3, 2.5)), mt.ShapeError, "dimensions are ints, got 2.5"),
        (lambda c: c.zeros("abc"), mt.ShapeError, "a shape is an int or a sequence of ints"),
        (lambda c: c.zeros(4).reshape(2, "x"), mt.ShapeError, "dimensions are ints"),
        (
            lambda c: mt.Context(device="host", dispatches_per_command_buffer=-1),
            mt.ArgumentError,
            "dispatches_per_command_buffer must be an integer from 0 to 4294967295",
        ),
        (
            lambda c: mt.Context(device="host", dispatches_per_command_buffer=2**40),
            mt.ArgumentError,
            "dispatches_per_command_buffer",
        ),
    ],
)
def test_bad_python_values_are_metallic_errors(
    ctx: mt.Context, call: object, error: type[Exception], message: str
) -> None:
    """Not pybind11's "Unable to cast" / "incompatible function arguments"."""
    with pytest.raises(error, match=message):
        call(ctx)  # type: ignore[operator]


def test_numpy_integers_are_accepted_as_sizes(ctx: mt.Context) -> None:
    assert ctx.zeros((np.int64(2), np.uint8(3))).shape == (2, 3)
    assert ctx.zeros(np.int32(4)).shape == (4,)
    assert mt.Context(device="host", dispatches_per_command_buffer=np.uint16(3)) is not None


def test_writing_past_a_buffer_without_host_checks_is_a_device_error(lib: mt.Library) -> None:
    """Grid 1024 into 8 floats used to corrupt the heap and kill the interpreter later. A host
    buffer ends at a guard page: running past its end faults (docs/host-device.md: what this
    cannot catch)."""
    ctx = mt.Context(device="host")
    y = ctx.zeros(8)
    lib.function("fill")(y, np.float32(1), grid=(1024,), threadgroup=(64,))
    with pytest.raises(
        mt.DeviceError, match=r"kernel fill: .*past the end of .*\[\[buffer\(0\)\]\]"
    ):
        y.numpy()
    _still_works(ctx)
    big = ctx.zeros(100_000)  # pooled: 400 KB rounds up to a size class; runs past that too
    lib.function("fill")(big, np.float32(2), grid=(150_000,), threadgroup=(256,))
    with pytest.raises(mt.DeviceError, match="past the end"):
        ctx.synchronize()
    _still_works(ctx)


def test_reading_past_a_buffer_without_host_checks_is_a_device_error(lib: mt.Library) -> None:
    ctx = mt.Context(device="host")
    x, y = ctx.zeros(8), ctx.zeros(1)  # x: 32 bytes in a pooled buffer of 256
    lib.function("read_one")(x, y, np.uint32(64), grid=(1,), threadgroup=(1,))
    with pytest.raises(
        mt.DeviceError, match=r"kernel read_one: .*past the end .*\[\[buffer\(0\)\]\]"
    ):
        y.numpy()
    _still_works(ctx)


def test_host_checks_stay_exact(lib: mt.Library) -> None:
    ctx = mt.Context(device="host", host_checks=True)
    y = ctx.zeros(8)
    lib.function("fill")(y, np.float32(1), grid=(9,), threadgroup=(9,))  # one element too many
    with pytest.raises(mt.DeviceError, match=r"\[\[buffer\(0\)\]\] element 8"):
        y.numpy()
    _still_works(ctx)


@pytest.mark.parametrize(
    ("kernel", "threads"), [("spin", 1), ("spin", 40_000), ("spin_barrier", 64)]
)
def test_watchdog_stops_a_kernel_that_never_ends(
    lib: mt.Library, monkeypatch: pytest.MonkeyPatch, kernel: str, threads: int
) -> None:
    monkeypatch.setenv("METALLIC_HOST_TIMEOUT_S", "0.3")
    ctx = mt.Context(device="host")
    flag = ctx.zeros(1, "u32")
    start = time.monotonic()
    lib.function(kernel)(flag, grid=(threads,), threadgroup=(min(threads, 64),))
    with pytest.raises(
        mt.DeviceError,
        match=rf"kernel {kernel} ran longer than METALLIC_HOST_TIMEOUT_S=0.3 s and was stopped",
    ):
        flag.numpy()
    assert time.monotonic() - start < 10
    _still_works(ctx)  # the queue goes on with the next command buffer


def test_watchdog_setting_must_be_a_number(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("METALLIC_HOST_TIMEOUT_S", "soon")
    with pytest.raises(mt.ArgumentError, match="METALLIC_HOST_TIMEOUT_S=soon is not a number"):
        mt.Context(device="host")


_INTERRUPTED = textwrap.dedent(
    """
    import sys
    import numpy as np
    import metallic as mt
    ctx = mt.Context(device="host")
    lib = mt.compile_library(sys.argv[1], name="robustness", ctx=ctx)
    flag = ctx.zeros(1, "u32")
    lib.function("spin")(flag, grid=(int(sys.argv[2]),), threadgroup=(1,))
    try:
        print("waiting", flush=True)
        flag.numpy()
    except KeyboardInterrupt:
        print("KeyboardInterrupt", flush=True)
    try:
        ctx.zeros(3).numpy()
    except mt.DeviceError as e:
        print("unusable:", e, flush=True)
    fresh = mt.Context(device="host")
    print("fresh:", mt.ops.add(fresh.zeros(2), fresh.zeros(2)).numpy().tolist(), flush=True)
    """
)


@pytest.mark.parametrize("threads", [1, 3])
def test_ctrl_c_interrupts_a_wait(threads: int) -> None:
    """A kernel that loops forever used to hang the process, deaf to Ctrl-C."""
    proc = subprocess.Popen(
        [sys.executable, "-c", _INTERRUPTED, SPIN, str(threads)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "waiting"
        time.sleep(1.0)  # well into the wait, even on a loaded machine
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert "KeyboardInterrupt" in out
    assert "unusable: this context was interrupted while it waited" in out
    assert "cannot be used any more: create a new Context" in out
    assert "fresh: [0.0, 0.0]" in out  # and the process exits: the abandoned kernel was stopped


@pytest.mark.not_under_asan("ASan's quarantine holds freed memory, so RSS grows by design")
def test_memory_stays_flat_over_many_ops(device: str) -> None:
    """The profiler used to log every dispatch forever (about 40 bytes per op)."""
    ctx = mt.Context(device=device)
    a = ctx.tensor(np.ones(16, np.float32))

    def run(n: int) -> None:
        for i in range(n):
            mt.ops.add(a, a)
            if i % 1000 == 999:
                ctx.synchronize()
        ctx.synchronize()

    run(10_000)  # warm up: pools, pipelines, allocator arenas
    rss_before, pool_before = _rss_bytes(), ctx.pool_stats()
    run(100_000)
    rss_after, pool_after = _rss_bytes(), ctx.pool_stats()
    assert rss_after - rss_before < 1 << 20, (rss_before, rss_after)  # < 10 bytes per op
    assert pool_after["bytes_allocated"] == pool_before["bytes_allocated"]
    assert pool_after["allocations"] == pool_before["allocations"]
    assert pool_after["reuses"] - pool_before["reuses"] == 100_000


def _rss_bytes() -> int:
    try:
        with open("/proc/self/statm") as f:
            import os

            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:  # not Linux: the peak is what there is
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
