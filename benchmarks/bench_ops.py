"""Per-op overhead from Python: metallic's `mt.ops.add` next to numpy and PyTorch (CPU).

For each size (f32 elements) it measures, per op:
  mt enc    the encoding loop of "mt lazy" alone (before its final sync): the cost of one op call
            from Python (on the host device the queue thread may run kernels meanwhile)
  mt lazy   N calls of `mt.ops.add(a, b)` with no sync in the loop, one `ctx.synchronize()` at
            the end, divided by N (encode cost from Python, plus execution where it is not hidden)
  mt sync   `mt.ops.add(a, b)` followed by `ctx.synchronize()` each time (a full round trip)
  numpy     `np.add(a, b)`
  torch     `torch.add(a, b)` on the CPU, if torch is importable
and, for the large sizes, throughput in GB/s counting 3 * size * 4 bytes (read a and b, write the
output) per op. Every figure is the median of several repetitions. Outputs are allocated by every
library (no out=), so each op pays its allocation, as in real use.

Run (with metallic importable):  python benchmarks/bench_ops.py [--quick] [--device host|metal]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import metallic as mt
import numpy as np
from timing import iterations_for, machine_line, time_runs

SIZES = (1, 1024, 64 * 1024, 1024 * 1024)
QUICK_SIZES = (1, 1024)
THROUGHPUT_MIN_SIZE = 64 * 1024


Loop = Callable[[int], "float | None"]


def time_per_call(loop: Loop, iters: int, reps: int) -> tuple[float, float | None]:
    """Medians over `reps` of the seconds per iteration of `loop(iters)`, and of the part of it
    that `loop` reports (the encoding loop before the final sync), if it reports one."""
    parts: list[float] = []

    def run() -> None:
        reported = loop(iters)
        if reported is not None:
            parts.append(reported / iters)

    wall, _ = time_runs(run, reps, warm_up=False)  # iterations_for has warmed up
    total = statistics.median(seconds / iters for seconds in wall)
    return total, (statistics.median(parts) if parts else None)


def mt_loops(ctx: Any, n: int) -> tuple[Loop, Loop]:
    rng = np.random.default_rng(0)
    a = ctx.tensor(rng.random(n, dtype=np.float32))
    b = ctx.tensor(rng.random(n, dtype=np.float32))
    add = mt.ops.add
    sync = ctx.synchronize
    expected = a.numpy() + b.numpy()
    np.testing.assert_allclose(add(a, b).numpy(), expected, rtol=1e-6)

    def lazy(iters: int) -> float:
        t0 = time.perf_counter()
        for _ in range(iters):
            add(a, b)
        encoded = time.perf_counter() - t0
        sync()
        return encoded

    def synced(iters: int) -> None:
        for _ in range(iters):
            add(a, b)
            sync()

    return lazy, synced


def reference_loop(add: Callable[[Any, Any], Any], a: Any, b: Any) -> Loop:
    """N calls of a baseline library's add on preallocated inputs."""

    def loop(iters: int) -> None:
        for _ in range(iters):
            add(a, b)

    return loop


def numpy_loop(n: int) -> Loop:
    rng = np.random.default_rng(0)
    return reference_loop(np.add, rng.random(n, dtype=np.float32), rng.random(n, dtype=np.float32))


def torch_loop(torch: Any, n: int) -> Loop:
    a = torch.rand(n, dtype=torch.float32)
    return reference_loop(torch.add, a, torch.rand(n, dtype=torch.float32))


def import_torch(wanted: bool) -> Any:
    if not wanted:
        return None
    try:
        import torch
    except ImportError:
        return None
    return torch


def fmt_us(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1e6:.2f}"


def fmt_gbs(n: int, seconds: float | None) -> str:
    if seconds is None or n < THROUGHPUT_MIN_SIZE:
        return "-"
    return f"{3 * n * 4 / seconds / 1e9:.1f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, short runs, no torch")
    parser.add_argument("--device", default="auto", help="metallic device: auto, host or metal")
    parser.add_argument("--reps", type=int, default=None, help="repetitions (median is reported)")
    parser.add_argument("--budget", type=float, default=None, help="seconds per repetition")
    parser.add_argument("--no-torch", action="store_true", help="skip PyTorch")
    args = parser.parse_args(argv)

    sizes = QUICK_SIZES if args.quick else SIZES
    reps = args.reps or (3 if args.quick else 7)
    budget = args.budget or (0.02 if args.quick else 0.15)
    max_iters = 2_000 if args.quick else 200_000
    torch = import_torch(not (args.quick or args.no_torch))

    ctx = mt.Context(device=args.device)
    print(machine_line())
    versions = (
        f"python {platform.python_version()}, numpy {np.__version__}, metallic {mt.__version__}"
    )
    if torch is not None:
        versions += f", torch {torch.__version__} ({torch.get_num_threads()} threads)"
    else:
        versions += ", torch not measured"
    print(f"device: {ctx.device}; {versions}")
    print(f"f32 elementwise add, median of {reps} repetitions; times in us per op")
    print()

    header = (
        f"{'size':>8} {'mt enc':>9} {'mt lazy':>9} {'mt sync':>9} {'numpy':>9} {'torch':>9}"
        f" {'mt GB/s':>8} {'np GB/s':>8} {'pt GB/s':>8}"
    )
    print(header)
    print("-" * len(header))
    for n in sizes:
        lazy, synced = mt_loops(ctx, n)
        results: dict[str, float | None] = {}
        loops: dict[str, Loop | None] = {
            "mt lazy": lazy,
            "mt sync": synced,
            "numpy": numpy_loop(n),
            "torch": torch_loop(torch, n) if torch is not None else None,
        }
        for name, loop in loops.items():
            if loop is None:
                results[name] = None
                continue
            iters = iterations_for(loop, budget, min_iters=10, max_iters=max_iters)
            results[name], part = time_per_call(loop, iters, reps)
            if name == "mt lazy":
                results["mt enc"] = part
        print(
            f"{n:>8} {fmt_us(results['mt enc']):>9} {fmt_us(results['mt lazy']):>9} {fmt_us(results['mt sync']):>9}"
            f" {fmt_us(results['numpy']):>9} {fmt_us(results['torch']):>9}"
            f" {fmt_gbs(n, results['mt lazy']):>8} {fmt_gbs(n, results['numpy']):>8}"
            f" {fmt_gbs(n, results['torch']):>8}",
            flush=True,
        )
    print()
    print("target: <= 2 us per lazily encoded op from Python (mt lazy, size 1)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
