"""Graph kernels next to the kernels they stand beside: sdpa through the mpsgraph backend (the
sdpa graph kernel, fused and unfused form) against the legacy and row backends and numpy.

On the host device the graph kernel runs on the reference executor (host_graph.cpp): the fused
node as one GEMM per (batch entry, KV head) for the scores and one for the output, the unfused
form as whole-tensor nodes. The cases are those of bench_attention.py (Qwen2.5-0.5B prefill and
decode, all-MiniLM-L6-v2 32x128); numpy is bench_attention's f32 implementation. Times are the
median wall time per call (synchronised) and the process's CPU time.

Run (with metallic importable):  python benchmarks/bench_graph.py [--device host|metal]
  [--reps N] [--dtype f32|f16] [--cases minilm,...]. numpy's BLAS is slowed by
  OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE on some machines: unset them for this command
  (env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE).
"""

from __future__ import annotations

import argparse
import os
import platform
from collections.abc import Callable

import metallic as mt
import numpy as np
from bench_attention import CASES, median_seconds, numpy_sdpa


def contexts(device: str) -> dict[str, tuple[mt.Context, str]]:
    """Column name -> (context, sdpa backend): one context per backend, and on the host one whose
    graph kernels build the unfused attention graph (the device reads the variable once)."""
    ctx = mt.Context(device=device)
    columns = {b: (ctx, b) for b in ("legacy", "row", "mpsgraph") if b in mt.backends(ctx)["sdpa"]}
    if ctx.device == "host":
        os.environ["METALLIC_HOST_GRAPH_FUSED_ATTENTION"] = "0"
        columns["mpsgraph unfused"] = (mt.Context(device=device), "mpsgraph")
        del os.environ["METALLIC_HOST_GRAPH_FUSED_ATTENTION"]
    return columns


def runs(
    columns: dict[str, tuple[mt.Context, str]], arrays: list[np.ndarray], causal: bool
) -> list[Callable[[], object]]:
    """One synchronised sdpa call per column, then numpy's, on the same data."""

    def sdpa(ctx: mt.Context, backend: str) -> Callable[[], object]:
        q, k, v = (ctx.tensor(a) for a in arrays)

        def run() -> None:
            ctx.set_backend("sdpa", backend)
            mt.ops.sdpa(q, k, v, causal=causal)
            ctx.synchronize()

        return run

    qf, kf, vf = (a.astype(np.float32) for a in arrays)
    return [sdpa(*c) for c in columns.values()] + [lambda: numpy_sdpa(qf, kf, vf, causal)]


def cell(times: tuple[float, float]) -> str:
    """A table cell: the median wall time and the process's CPU time, in ms."""
    return f"{times[0] * 1e3:10.2f} (cpu {times[1] * 1e3:7.1f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--dtype", default="f32", choices=["f32", "f16"])
    parser.add_argument("--cases", default="", help="comma-separated name prefixes (default all)")
    args = parser.parse_args()
    dtype = np.float32 if args.dtype == "f32" else np.float16
    columns = contexts(args.device)
    print(
        f"machine: {platform.machine()} {platform.processor()}, device {args.device}, {args.dtype}"
    )
    print(f"{'case':28} " + " ".join(f"{name + ' ms':>22}" for name in [*columns, "numpy"]))
    rng = np.random.default_rng(0)
    prefixes = [p for p in args.cases.split(",") if p]
    for name, b, hq, hkv, lq, lk, d, causal in CASES:
        if prefixes and not any(name.startswith(p) for p in prefixes):
            continue
        arrays = [
            rng.standard_normal(s).astype(dtype)
            for s in ((b, hq, lq, d), (b, hkv, lk, d), (b, hkv, lk, d))
        ]
        cells = [cell(median_seconds(run, args.reps)) for run in runs(columns, arrays, causal)]
        print(f"{name:28} " + " ".join(cells))


if __name__ == "__main__":
    main()
