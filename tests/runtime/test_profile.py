"""Profiles record only when asked (`with ctx.profile() as p:` or METALLIC_ENABLE_PROFILING=1): per
dispatch the op, scope, kernel, grid, threadgroup, bytes bound and duration."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import metallic as mt
import numpy as np
import pytest


def test_records_every_dispatch_of_the_block(ctx: mt.Context) -> None:
    a = ctx.tensor(np.ones(1000, np.float32))
    mt.ops.add(a, a)  # before the block: not recorded
    with ctx.profile() as p:
        with ctx.scope("layer0"):
            mt.ops.add(a, a)
            mt.ops.mul(a, a)
        mt.ops.add(a, a)
    mt.ops.sub(a, a)  # after: not recorded
    ctx.synchronize()
    assert len(p) == 3
    first = p.records[0]
    assert (first.label, first.scope) == ("elemwise_add", "layer0")
    assert first.kernel == "elemwise_add_vv_f32"
    assert first.grid == (1000, 1, 1) and first.threadgroup == (256, 1, 1)
    assert first.bytes == 3 * 1000 * 4  # a, a and the output
    assert [r.label for r in p.records] == ["elemwise_add", "elemwise_mul", "elemwise_add"]
    if ctx.device == "host":  # the host device times every dispatch
        assert all(r.seconds > 0 for r in p.records)
        starts = [r.start for r in p.records]
        assert starts[0] == 0 and starts == sorted(starts)


def test_table_groups_by_op_and_sorts_by_time(ctx: mt.Context) -> None:
    small = ctx.tensor(np.ones(16, np.float32))
    large = ctx.tensor(np.ones(1 << 20, np.float32))
    with ctx.profile() as p:
        for _ in range(3):
            mt.ops.add(small, small)
        mt.ops.mul(large, large)
    lines = p.table().splitlines()
    assert lines[0].split()[:5] == ["op", "calls", "total", "ms", "mean"]
    rows = {line.split()[0]: line.split() for line in lines[1:]}
    assert rows["elemwise_add"][1] == "3" and rows["elemwise_mul"][1] == "1"
    assert rows["total"][1] == "4"
    if ctx.device == "host":
        # 1M elements take longer than three adds of 16: the mul comes first.
        assert lines[1].startswith("elemwise_mul") and lines[2].startswith("elemwise_add")


def test_chrome_trace_loads_as_trace_events(ctx: mt.Context, tmp_path: Path) -> None:
    a = ctx.tensor(np.ones(64, np.float32))
    with ctx.profile() as p, ctx.scope("block"):
        mt.ops.add(a, a)
        mt.ops.div(a, a)
    path = tmp_path / "trace.json"
    p.export_chrome_trace(str(path))
    trace = json.loads(path.read_text())
    events = trace["traceEvents"]
    assert [e["name"] for e in events] == ["elemwise_add", "elemwise_div"]
    for e in events:
        assert e["ph"] == "X" and e["cat"] == "block"
        assert {"ts", "dur", "pid", "tid"} <= set(e)
        assert e["args"]["kernel"].startswith(e["name"])
        assert e["args"]["grid"] == [64, 1, 1]
    assert events[1]["ts"] >= events[0]["ts"] + events[0]["dur"] * 0.999
    with pytest.raises(mt.ArgumentError, match="cannot write"):
        p.export_chrome_trace(str(tmp_path / "missing" / "trace.json"))


def test_profiles_nest(ctx: mt.Context) -> None:
    a = ctx.tensor(np.ones(8, np.float32))
    with ctx.profile() as outer:
        mt.ops.add(a, a)
        with ctx.profile() as inner:
            mt.ops.mul(a, a)
        mt.ops.sub(a, a)
    assert [r.label for r in inner.records] == ["elemwise_mul"]
    assert [r.label for r in outer.records] == ["elemwise_add", "elemwise_mul", "elemwise_sub"]


def test_custom_kernels_and_matmul_are_recorded(ctx: mt.Context) -> None:
    a = ctx.tensor(np.ones((4, 8), np.float32))
    b = ctx.tensor(np.ones((8, 3), np.float32))
    with ctx.profile() as p:
        mt.ops.mps_matmul(a, b)
    (r,) = p.records
    assert r.label == "mps_matmul" and "matmul" in r.kernel
    assert r.grid == (3, 4, 1) and r.bytes == (32 + 24 + 12) * 4


def test_misuse_is_a_clear_error(ctx: mt.Context) -> None:
    p = ctx.profile()
    with pytest.raises(mt.ArgumentError, match="not recording"):
        p.stop()
    with p:
        pass
    with pytest.raises(mt.ArgumentError, match="records once"), p:
        pass


def test_a_failed_command_buffer_drops_its_records() -> None:
    ctx = mt.Context(device="host")
    lib = mt.compile_library(
        "kernel void past(device float* y [[buffer(0)]], uint i [[thread_position_in_grid]]) "
        "{ y[i] = 1.0f; }\n",
        name="profile_fault",
        ctx=ctx,
    )
    a = ctx.tensor(np.ones(8, np.float32))
    with pytest.raises(mt.DeviceError), ctx.profile() as p:
        mt.ops.add(a, a)
        lib.function("past")(ctx.zeros(8), grid=(1024,), threadgroup=(64,))
    assert len(p) == 0
    with ctx.profile() as p:
        mt.ops.add(a, a)
    assert [r.label for r in p.records] == ["elemwise_add"]


def test_environment_variable_profiles_a_whole_context() -> None:
    script = (
        "import numpy as np, metallic as mt\n"
        "ctx = mt.Context(device='host')\n"
        "a = ctx.tensor(np.ones(8, np.float32))\n"
        "for _ in range(5): mt.ops.add(a, a)\n"
        "mt.ops.mul(a, a).numpy()\n"
        "del a, ctx\n"
    )
    env = dict(os.environ, METALLIC_ENABLE_PROFILING="1")
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert "metallic profile (METALLIC_ENABLE_PROFILING=1) of a host context" in result.stderr
    rows = {line.split()[0]: line.split() for line in result.stderr.splitlines()[1:]}
    assert rows["elemwise_add"][1] == "5" and rows["elemwise_mul"][1] == "1"
