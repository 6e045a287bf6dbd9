"""Timing and machine description shared by the Python benchmark scripts in this folder.

Every script measures the same way: warm up once (pipelines, pools, caches), then time several
repetitions with the garbage collector paused, and report the median (or the minimum, which says
what a quiet machine does when other work shares the cores). A script imports this module as
`from timing import ...`: Python puts the script's folder first on the import path.
"""

from __future__ import annotations

import gc
import os
import platform
import statistics
import time
from collections.abc import Callable


def time_runs(
    fn: Callable[[], object], reps: int, warm_up: bool = True
) -> tuple[list[float], list[float]]:
    """Wall and process-CPU seconds (all threads) of each of `reps` calls of fn(), after one
    warm-up call unless `warm_up` is False, with the garbage collector paused meanwhile."""
    if warm_up:
        fn()
    wall, cpu = [], []
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        for _ in range(reps):
            start, start_cpu = time.perf_counter(), time.process_time()
            fn()
            wall.append(time.perf_counter() - start)
            cpu.append(time.process_time() - start_cpu)
    finally:
        if gc_was_enabled:
            gc.enable()
    return wall, cpu


def median_seconds(fn: Callable[[], object], reps: int) -> float:
    """Median wall time of fn() over `reps` calls, after one warm-up call."""
    return statistics.median(time_runs(fn, reps)[0])


def iterations_for(
    run: Callable[[int], object], budget: float, min_iters: int = 1, max_iters: int = 1 << 16
) -> int:
    """How many iterations run(iters) needs to take about `budget` seconds (clamped to
    [min_iters, max_iters]); its first calls warm up."""
    iters = min_iters
    while True:
        start = time.perf_counter()
        run(iters)
        elapsed = time.perf_counter() - start
        if elapsed >= budget / 10 or iters >= max_iters:
            break
        iters *= 4
    return int(max(min_iters, min(max_iters, iters * budget / max(elapsed, 1e-9))))


def seconds_per_call(
    run: Callable[[int], object], budget: float, reps: int, stat: str = "median"
) -> float:
    """Seconds per iteration of run(iters), iters sized to about `budget` seconds: the median
    (stat "median") or the minimum (stat "min") over `reps` repetitions."""
    iters = iterations_for(run, budget)
    wall, _ = time_runs(lambda: run(iters), reps, warm_up=False)
    per_call = [seconds / iters for seconds in wall]
    return min(per_call) if stat == "min" else statistics.median(per_call)


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo (Linux), else what platform reports."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def physical_cores() -> int | None:
    """Physical cores from /proc/cpuinfo (Linux), or None where it cannot tell."""
    try:
        pairs: set[tuple[str | None, str | None]] = set()
        physical = core = None
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                key = key.strip()
                if key == "physical id":
                    physical = value.strip()
                elif key == "core id":
                    core = value.strip()
                elif not key:
                    if core is not None:
                        pairs.add((physical, core))
                    physical = core = None
            return len(pairs) or None
    except OSError:
        return None


def machine_line() -> str:
    """'machine: <cpu model>, N logical CPUs, M cores' for the head of a benchmark's output."""
    cores = physical_cores()
    return f"machine: {cpu_model()}, {os.cpu_count()} logical CPUs" + (
        f", {cores} cores" if cores else ""
    )
