"""Host kernels compiled at run time are cached on disk by content hash: a second process reuses
the shared object instead of compiling again, and a changed source gets a new one."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SCRIPT = """
import sys
import numpy as np
import metallic as mt

scale = sys.argv[1]
lib = mt.compile_library(
    "#include <metal_stdlib>\\nusing namespace metal;\\n"
    "kernel void k(device float* out [[buffer(0)]], uint i [[thread_position_in_grid]]) {\\n"
    "  out[i] = float(i) * " + scale + ";\\n}\\n",
    name="cached",
)
ctx = mt.Context(device="host")
out = ctx.zeros(4)
lib.function("k")(out, grid=(4,), threadgroup=(4,))
print(out.numpy().tolist())
"""


def _run(cache: Path, scale: str) -> str:
    env = dict(os.environ, METALLIC_CACHE_DIR=str(cache))
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, scale], capture_output=True, text=True, env=env, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def _objects(cache: Path) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in cache.glob("*.so")}


def test_second_process_reuses_the_compiled_library(tmp_path: Path) -> None:
    assert _run(tmp_path, "2.0") == "[0.0, 2.0, 4.0, 6.0]"
    first = _objects(tmp_path)
    assert len(first) == 1
    assert _run(tmp_path, "2.0") == "[0.0, 2.0, 4.0, 6.0]"
    assert _objects(tmp_path) == first  # nothing compiled, nothing rewritten
    assert _run(tmp_path, "3.0") == "[0.0, 3.0, 6.0, 9.0]"
    assert len(_objects(tmp_path)) == 2  # a new source, a new object
