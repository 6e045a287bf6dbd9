"""Smoke test of benchmarks/bench_ops.py: `--quick` runs in about a second and prints its table.
No timing assertions: timings depend on the machine."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_ops.py"


def test_bench_ops_quick_prints_a_table() -> None:
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--reps", "1", "--budget", "0.005"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert any(line.startswith("machine: ") for line in lines), result.stdout
    header = next(line for line in lines if "mt lazy" in line)
    assert header.split()[:4] == ["size", "mt", "enc", "mt"], header
    rows = {line.split()[0]: line.split() for line in lines if line.strip()[:1].isdigit()}
    assert set(rows) == {"1", "1024"}, result.stdout
    for row in rows.values():
        # size; mt enc, mt lazy, mt sync, numpy, torch (us); three GB/s columns
        assert len(row) == 9, row
        assert all(float(cell) > 0 for cell in row[1:5]), row
