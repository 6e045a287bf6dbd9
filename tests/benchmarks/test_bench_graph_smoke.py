"""Smoke test of benchmarks/bench_graph.py on one small case: it runs and prints a row for every
backend column and numpy. No timing assertions: timings depend on the machine."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_graph.py"


def test_bench_graph_prints_every_backend() -> None:
    result = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "--device",
            "host",
            "--reps",
            "1",
            "--cases",
            "qwen2.5-0.5b decode kv=1k",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    header = next(line for line in lines if line.startswith("case"))
    for column in ("legacy ms", "row ms", "mpsgraph ms", "mpsgraph unfused ms", "numpy ms"):
        assert column in header, header
    (row,) = [line for line in lines if line.startswith("qwen2.5-0.5b decode kv=1k")]
    assert row.count("(cpu") == 5, row
