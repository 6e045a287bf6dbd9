"""The graph IR's builder (cpp/src/core/graph.cpp) tested in C++ (tests/graph/cpp): shapes and
dtypes inferred, errors that name the node kind and the shapes. Built with the kernel compiler
against the source tree and run."""

from __future__ import annotations

import os
import shlex
import subprocess
from pathlib import Path

import pytest
from metallic._msl.compile import compiler

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(not (ROOT / "cpp" / "src" / "core").is_dir(), reason="needs the source tree")
def test_graph_builder(tmp_path: Path) -> None:
    exe = tmp_path / "test_graph_builder"
    cmd = [
        compiler(),
        "-std=c++17",
        "-O1",
        "-Wall",
        "-Wextra",
        *shlex.split(os.environ.get("METALLIC_TEST_CXXFLAGS", "")),
        "-I",
        str(ROOT / "cpp" / "include"),
        str(ROOT / "tests" / "graph" / "cpp" / "test_graph_builder.cpp"),
        str(ROOT / "cpp" / "src" / "core" / "graph.cpp"),
        str(ROOT / "cpp" / "src" / "core" / "dtype.cpp"),
        "-o",
        str(exe),
    ]
    build = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert build.returncode == 0, build.stderr[-4000:]
    env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
    run = subprocess.run([str(exe)], capture_output=True, text=True, timeout=60, env=env)
    assert run.returncode == 0, (run.stdout + run.stderr)[-4000:]
    assert run.stdout.strip() == "ok"
