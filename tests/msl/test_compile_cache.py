"""Host kernels compiled at run time are cached on disk by content hash: a second process reuses
the shared object instead of compiling again, and a changed source, a changed header it includes
or a changed header of the emulated stdlib gets a new one; compiling again in the same context
sees a changed header too."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import metallic as mt
import numpy as np
import pytest
from metallic._msl.compile import INCLUDE_DIR

# argv: the scale expression, a directory for the user's header, and optionally a copy of the
# emulated stdlib's headers to compile against.
SCRIPT = """
import sys
from pathlib import Path
import numpy as np
import metallic as mt
from metallic._msl import compile as host_compile

scale, header_dir = sys.argv[1], sys.argv[2]
if len(sys.argv) > 3:
    host_compile.INCLUDE_DIR = Path(sys.argv[3])
lib = mt.compile_library(
    "#include <metal_stdlib>\\n#include \\"scale.h\\"\\nusing namespace metal;\\n"
    "kernel void k(device float* out [[buffer(0)]], uint i [[thread_position_in_grid]]) {\\n"
    "  out[i] = float(i) * " + scale + ";\\n}\\n",
    name="cached",
    include_dirs=[header_dir],
)
ctx = mt.Context(device="host")
out = ctx.zeros(4)
lib.function("k")(out, grid=(4,), threadgroup=(4,))
print(out.numpy().tolist())
"""


def _run(cache: Path, scale: str, stdlib: Path | None = None) -> str:
    env = dict(os.environ, METALLIC_CACHE_DIR=str(cache))
    headers = cache.parent / "headers"
    headers.mkdir(exist_ok=True)
    if not (headers / "scale.h").exists():
        (headers / "scale.h").write_text("#define SCALE 2.0f\n")
    args = [sys.executable, "-c", SCRIPT, scale, str(headers), *([str(stdlib)] if stdlib else [])]
    result = subprocess.run(args, capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def _objects(cache: Path) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in cache.glob("*.so")}


def test_second_process_reuses_the_compiled_library(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    assert _run(cache, "2.0") == "[0.0, 2.0, 4.0, 6.0]"
    first = _objects(cache)
    assert len(first) == 1
    assert _run(cache, "2.0") == "[0.0, 2.0, 4.0, 6.0]"
    assert _objects(cache) == first  # nothing compiled, nothing rewritten
    assert _run(cache, "3.0") == "[0.0, 3.0, 6.0, 9.0]"
    assert len(_objects(cache)) == 2  # a new source, a new object


def test_a_changed_header_is_compiled_again(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    assert _run(cache, "SCALE") == "[0.0, 2.0, 4.0, 6.0]"
    (tmp_path / "headers" / "scale.h").write_text("#define SCALE 5.0f\n")
    assert _run(cache, "SCALE") == "[0.0, 5.0, 10.0, 15.0]"
    assert len(_objects(cache)) == 2


def test_a_changed_stdlib_header_is_compiled_again(tmp_path: Path) -> None:
    """The emulated stdlib is included by the compiler, not by the translation: its headers'
    contents are part of the key too (a reinstall or an edit of them must not reuse old code)."""
    cache, stdlib = tmp_path / "cache", tmp_path / "stdlib"
    shutil.copytree(INCLUDE_DIR, stdlib)
    assert _run(cache, "2.0", stdlib) == "[0.0, 2.0, 4.0, 6.0]"
    assert _run(cache, "2.0", stdlib) == "[0.0, 2.0, 4.0, 6.0]"
    assert len(_objects(cache)) == 1
    prelude = stdlib / "metallic_msl_prelude.h"
    prelude.write_text(prelude.read_text() + "\n// a change\n")
    assert _run(cache, "2.0", stdlib) == "[0.0, 2.0, 4.0, 6.0]"
    assert len(_objects(cache)) == 2


def test_compiling_again_in_one_context_picks_up_a_changed_header(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """compile_library compiles when it is called, as newLibraryWithSource does, even when the
    context has the same source cached; a library compiled before keeps its code."""
    monkeypatch.setenv("METALLIC_CACHE_DIR", str(tmp_path / "cache"))
    header = tmp_path / "scale.h"
    header.write_text("#define SCALE 2.0f\n")
    source = (
        '#include <metal_stdlib>\n#include "scale.h"\n'
        "kernel void k(device float* out [[buffer(0)]], uint i [[thread_position_in_grid]]) {\n"
        "  out[i] = float(i) * SCALE;\n}\n"
    )
    ctx = mt.Context(device="host")
    before = mt.compile_library(source, name="edited", include_dirs=[str(tmp_path)], ctx=ctx)
    header.write_text("#define SCALE 5.0f\n")
    after = mt.compile_library(source, name="edited", include_dirs=[str(tmp_path)], ctx=ctx)
    for lib, scale in ((before, 2), (after, 5)):
        out = ctx.zeros(4)
        lib.function("k")(out, grid=(4,), threadgroup=(4,))
        np.testing.assert_array_equal(out.numpy(), np.arange(4) * scale)
