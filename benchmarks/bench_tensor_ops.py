"""Throughput of the general tensor ops next to numpy, on the same data in the same run.

Cases (GB/s counts the bytes each op must move at least: inputs read once, output written once):
  broadcast add   f32 [4096, 4096] + [4096]             mt.ops.add       a + b
  row sum         f32 [4096, 4096] over axis 1          mt.ops.sum       x.sum(axis=1)
  full sum        f32 16M elements                      mt.ops.sum       x.sum()
  gather          4096 rows of a [32000, 896] f16 table mt.ops.embedding table[ids]
Each figure is the median of several repetitions of op + ctx.synchronize() (metallic) or the
numpy call, each allocating its output. The copy and cast benchmarks are in the layout family's
script.

Run (with metallic importable); unset numpy's BLAS tuning variables for a fair baseline:
  env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/bench_tensor_ops.py [--device host]
"""

from __future__ import annotations

import argparse
import platform
from collections.abc import Callable
from typing import Any

import metallic as mt
import numpy as np
from timing import median_seconds


def cases(ctx: mt.Context) -> list[tuple[str, int, Callable[[], Any], Callable[[], Any], Any]]:
    """(name, bytes moved, metallic run, numpy run, check) for each case."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((4096, 4096), dtype=np.float32)
    b = rng.standard_normal(4096, dtype=np.float32)
    x = rng.standard_normal(1 << 24, dtype=np.float32)
    table = rng.standard_normal((32000, 896), dtype=np.float32).astype(np.float16)
    ids = rng.integers(0, 32000, 4096).astype(np.int32)
    ta, tb, tx, ttable, tids = (ctx.tensor(v) for v in (a, b, x, table, ids))
    sync = ctx.synchronize

    def run(op: Callable[[], Any]) -> Callable[[], Any]:
        def timed() -> Any:
            out = op()
            sync()
            return out

        return timed

    return [
        (
            "broadcast add [4096,4096]+[4096] f32",
            (2 * a.size + b.size) * 4,
            run(lambda: mt.ops.add(ta, tb)),
            lambda: a + b,
            lambda out: np.testing.assert_array_equal(out.numpy(), a + b),
        ),
        (
            "row sum [4096,4096] f32",
            (a.size + a.shape[0]) * 4,
            run(lambda: mt.ops.sum(ta, axis=1)),
            lambda: a.sum(axis=1),
            lambda out: np.testing.assert_allclose(out.numpy(), a.sum(axis=1), atol=1e-2),
        ),
        (
            "full sum 16M f32",
            x.size * 4,
            run(lambda: mt.ops.sum(tx)),
            lambda: x.sum(),
            lambda out: np.testing.assert_allclose(out.item(), x.sum(dtype=np.float64), atol=1.0),
        ),
        (
            "gather 4096 rows of [32000,896] f16",
            2 * ids.size * table.shape[1] * 2 + ids.size * 4,
            run(lambda: mt.ops.embedding(ttable, tids)),
            lambda: table[ids],
            lambda out: np.testing.assert_array_equal(out.numpy(), table[ids]),
        ),
    ]


def main() -> None:
    """Prints one row per case: milliseconds and GB/s for metallic and numpy, and their ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default=None, help="host or metal (default: the best)")
    parser.add_argument("--reps", type=int, default=7)
    args = parser.parse_args()
    ctx = mt.Context(device=args.device) if args.device else mt.Context()
    print(f"device: {ctx.device}   machine: {platform.machine()} {platform.processor()}")
    print(f"{'case':40} {'mt ms':>8} {'mt GB/s':>8} {'np ms':>8} {'np GB/s':>8} {'mt/np':>6}")
    for name, nbytes, mt_run, np_run, check in cases(ctx):
        check(mt_run())
        t_mt = median_seconds(mt_run, args.reps)
        t_np = median_seconds(np_run, args.reps)
        print(
            f"{name:40} {t_mt * 1e3:8.2f} {nbytes / t_mt / 1e9:8.2f} "
            f"{t_np * 1e3:8.2f} {nbytes / t_np / 1e9:8.2f} {t_np / t_mt:6.2f}"
        )


if __name__ == "__main__":
    main()
