"""The C++ tests of the emulated stdlib and the execution-model runtime (tests/msl/cpp), built
with the kernel compiler (clang >= 15, as translated kernels are) against the source tree and run.
METALLIC_TEST_CXXFLAGS adds compiler flags (tools/sanitized sets the sanitizers there)."""

from __future__ import annotations

import os
import shlex
import subprocess
from pathlib import Path

import pytest
from metallic._msl.compile import compiler, kernel_flags

ROOT = Path(__file__).resolve().parents[2]
MSL = ROOT / "cpp" / "src" / "backends" / "host" / "msl"


@pytest.mark.skipif(not (MSL / "runtime").is_dir(), reason="needs the source tree")
@pytest.mark.parametrize("name", ["test_stdlib", "test_runtime"])
def test_cpp(name, tmp_path):
    exe = tmp_path / name
    sources = [str(ROOT / "tests" / "msl" / "cpp" / f"{name}.cpp")]
    if name == "test_runtime":
        sources += sorted(str(p) for p in (MSL / "runtime").glob("*.cpp"))
    cmd = [
        compiler(),
        *kernel_flags(),
        "-O1",
        "-pthread",
        *shlex.split(os.environ.get("METALLIC_TEST_CXXFLAGS", "")),
        "-I",
        str(MSL / "include"),
        *sources,
        "-o",
        str(exe),
    ]
    build = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert build.returncode == 0, build.stderr[-4000:]
    # The executable carries the sanitizer runtime of its own compiler, if it was built with one;
    # a runtime preloaded for the Python module (tools/sanitized) may be another's and clash.
    env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
    run = subprocess.run([str(exe)], capture_output=True, text=True, timeout=120, env=env)
    assert run.returncode == 0, (run.stdout + run.stderr)[-4000:]
