"""Layout-op throughput: metallic's copy of a transposed 4096x4096 f32 and cast f32 -> f16 of 16M
elements, side by side with numpy on the same data in the same run, in GB/s (bytes read + written
once each, the minimum traffic). Each figure is the median of several repetitions; metallic's
includes the synchronize that waits for the result.

Run (compare with numpy's BLAS-free paths; unset this machine's OpenBLAS overrides anyway):
  env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/bench_layout_ops.py [--device host]
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

import metallic as mt
import numpy as np
from timing import cpu_model, median_seconds


def main() -> None:
    """Prints one row per case: metallic and numpy GB/s and their ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--reps", type=int, default=5)
    args = parser.parse_args()
    ctx = mt.Context(device=args.device)
    rng = np.random.default_rng(0)

    square = rng.standard_normal((4096, 4096)).astype(np.float32)
    flat = rng.standard_normal(16 * 1024 * 1024).astype(np.float32)
    square_t, flat_t = ctx.tensor(square), ctx.tensor(flat)

    def synced(make: Callable[[], mt.Tensor]) -> Callable[[], object]:
        def run() -> object:
            out = make()
            ctx.synchronize()
            return out

        return run

    cases = [
        (
            "copy of transposed 4096x4096 f32",
            square.nbytes * 2,
            synced(lambda: mt.ops.copy(square_t.T)),
            lambda: np.ascontiguousarray(square.T),
        ),
        (
            "cast f32 -> f16, 16M elements",
            flat.size * 6,
            synced(lambda: mt.ops.astype(flat_t, "f16")),
            lambda: flat.astype(np.float16),
        ),
    ]
    print(f"device={ctx.device} cpu={cpu_model()} reps={args.reps}")
    print(f"{'case':36} {'metallic GB/s':>14} {'numpy GB/s':>11} {'ratio':>6}")
    for name, nbytes, mt_run, np_run in cases:
        mt_gbs = nbytes / median_seconds(mt_run, args.reps) / 1e9
        np_gbs = nbytes / median_seconds(np_run, args.reps) / 1e9
        print(f"{name:36} {mt_gbs:14.2f} {np_gbs:11.2f} {mt_gbs / np_gbs:6.2f}")


if __name__ == "__main__":
    main()
