"""Static checks in the test run: type stubs (mypy), Python lint (ruff), C++ format (clang-format),
and the generated ops.pyi being current."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from metallic import stubs

REPO = Path(__file__).resolve().parents[1]


def _run(*cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)


def test_ops_stub_is_current() -> None:
    committed = (REPO / "python" / "metallic" / "ops.pyi").read_text()
    assert committed == stubs.render(), "run `python tools/gen_stubs.py` and commit ops.pyi"


def test_mypy_strict_on_the_package() -> None:
    pytest.importorskip("mypy")
    result = _run(sys.executable, "-m", "mypy", "--config-file", "pyproject.toml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_checks_user_code_against_the_stubs(tmp_path: Path) -> None:
    pytest.importorskip("mypy")
    user = tmp_path / "user.py"
    user.write_text(
        "import metallic as mt\n"
        "ctx = mt.Context()\n"
        "t: mt.Tensor = mt.ops.add(ctx.zeros(3), ctx.zeros(3))\n"
        "bad: int = t.shape\n"
    )
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", str(user)], capture_output=True, text=True
    )
    assert "user.py:4: error: Incompatible types in assignment" in result.stdout, result.stdout
    assert result.stdout.count("error:") == 1, result.stdout


def test_ruff() -> None:
    pytest.importorskip("ruff")
    paths = ("python", "tests", "benchmarks", "tools")
    result = _run(sys.executable, "-m", "ruff", "check", *paths)
    assert result.returncode == 0, result.stdout + result.stderr
    result = _run(sys.executable, "-m", "ruff", "format", "--check", *paths)
    assert result.returncode == 0, "run `ruff format`:\n" + result.stdout + result.stderr


def test_clang_format() -> None:
    exe = shutil.which("clang-format")
    if exe is None:
        pytest.skip("clang-format is not installed")
    files = [
        str(p.relative_to(REPO))
        for d in ("cpp", "benchmarks")
        for p in (REPO / d).rglob("*")
        if p.suffix in (".cpp", ".hpp", ".h", ".mm")
    ]
    result = _run(exe, "--dry-run", "--Werror", *files)
    assert result.returncode == 0, result.stderr[-5000:]
