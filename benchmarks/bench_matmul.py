"""matmul and the Q8_0 GEMV next to numpy, at the linear layers of Qwen2.5-0.5B (hidden 896, ffn
4864, vocab 151936; M = 1 decode, M = 128 prefill) and all-MiniLM-L6-v2 (hidden 384, ffn 1536,
32 x 128 tokens).

Every layer is x [M, K] @ W^T with W [N, K] as nn.Linear and GGUF store it: metallic runs
`mt.ops.matmul(x, W, transpose_b=True)` (auto backend: the vendor BLAS on the host device, MPS
or the MSL GEMV on Metal) and, for the Q8_0 rows, `matmul(x, quantize(W, "q8_0"),
transpose_b=True)`; numpy runs `x @ W.T` in f32 in the same process. Times are medians of
lazily encoded loops with one synchronisation at the end (--stat min: minima); GFLOP/s counts 2*M*N*K, GB/s the
weight bytes (4 per f32 element, 34 per 32 for Q8_0).

numpy's OpenBLAS reads OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE when it loads: to compare against
numpy at full speed, run with both unset in this command alone:

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/bench_matmul.py [--quick]
"""

from __future__ import annotations

import argparse
import os
import platform
from collections.abc import Callable

import metallic as mt
import numpy as np
from timing import seconds_per_call

# (model, layer, M, N, K)
SHAPES = [
    ("qwen2.5-0.5b", "q/o proj", 1, 896, 896),
    ("qwen2.5-0.5b", "gate/up", 1, 4864, 896),
    ("qwen2.5-0.5b", "down", 1, 896, 4864),
    ("qwen2.5-0.5b", "lm head", 1, 151936, 896),
    ("qwen2.5-0.5b", "q/o proj", 128, 896, 896),
    ("qwen2.5-0.5b", "gate/up", 128, 4864, 896),
    ("qwen2.5-0.5b", "down", 128, 896, 4864),
    ("qwen2.5-0.5b", "lm head", 128, 151936, 896),
    ("minilm-l6", "qkv/o proj", 4096, 384, 384),
    ("minilm-l6", "ffn up", 4096, 1536, 384),
    ("minilm-l6", "ffn down", 4096, 384, 1536),
]
QUICK_SHAPES = [s for s in SHAPES if s[1] != "lm head" and s[2] <= 128]
Q8_SHAPES = [(1, 4864, 896), (1, 896, 4864), (4, 4864, 896), (8, 4864, 896)]


def metallic_loop(ctx: mt.Context, x: mt.Tensor, w: mt.Tensor) -> Callable[[int], None]:
    def run(n: int) -> None:
        for _ in range(n):
            mt.ops.matmul(x, w, transpose_b=True)
        ctx.synchronize()

    return run


def numpy_loop(x: np.ndarray, w: np.ndarray) -> Callable[[int], None]:
    def run(n: int) -> None:
        for _ in range(n):
            x @ w.T

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="skip the lm head and use short runs")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--budget", type=float, default=0.3, help="seconds per repetition")
    parser.add_argument("--stat", choices=("median", "min"), default="median")
    args = parser.parse_args()
    budget = 0.05 if args.quick else args.budget

    ctx = mt.Context(device=args.device)
    rng = np.random.default_rng(0)
    env = {k: os.environ[k] for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE") if k in os.environ}
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} logical CPUs")
    print(f"device: {ctx.device}; numpy {np.__version__}; OpenBLAS env for numpy: {env or 'unset'}")
    print(
        f"{args.stat} of {args.reps} repetitions of about {budget} s; load average {os.getloadavg()}"
    )

    print("\nf32 matmul x[M,K] @ W[N,K]^T (metallic auto backend vs numpy x @ W.T)")
    header = f"{'model':13} {'layer':11} {'M':>5} {'N':>7} {'K':>5} {'backend':>8}"
    print(header + f" {'mt GF/s':>9} {'np GF/s':>9} {'mt/np':>6}")
    for model, layer, m, n, k in QUICK_SHAPES if args.quick else SHAPES:
        x = rng.standard_normal((m, k)).astype(np.float32)
        w = rng.standard_normal((n, k)).astype(np.float32)
        xt, wt = ctx.tensor(x), ctx.tensor(w)
        t_mt = seconds_per_call(metallic_loop(ctx, xt, wt), budget, args.reps, args.stat)
        backend = ctx.backend_events(clear=True)[-1][1]
        t_np = seconds_per_call(numpy_loop(x, w), budget, args.reps, args.stat)
        flops = 2.0 * m * n * k
        print(
            f"{model:13} {layer:11} {m:5} {n:7} {k:5} {backend:>8}"
            f" {flops / t_mt / 1e9:9.1f} {flops / t_np / 1e9:9.1f} {t_np / t_mt:6.2f}"
        )
        del xt, wt

    print("\nQ8_0 GEMV x[M,K] @ Wq[N,K]^T vs numpy's f32 x @ W.T (GB/s of weight bytes)")
    print(
        f"{'M':>3} {'N':>6} {'K':>6} {'mt us':>8} {'np us':>8} {'mt GB/s':>8} {'np GB/s':>8} {'np/mt':>6}"
    )
    for m, n, k in Q8_SHAPES:
        x = rng.standard_normal((m, k)).astype(np.float32)
        w = rng.standard_normal((n, k)).astype(np.float32)
        wq = mt.ops.quantize(ctx.tensor(w), "q8_0")
        t_mt = seconds_per_call(metallic_loop(ctx, ctx.tensor(x), wq), budget, args.reps, args.stat)
        t_np = seconds_per_call(numpy_loop(x, w), budget, args.reps, args.stat)
        print(
            f"{m:3} {n:6} {k:6} {t_mt * 1e6:8.1f} {t_np * 1e6:8.1f}"
            f" {wq.nbytes / t_mt / 1e9:8.2f} {w.nbytes / t_np / 1e9:8.2f} {t_np / t_mt:6.2f}"
        )
    print("\ntargets (host device): f32 mt/np >= 0.9; Q8_0 GEMV 4864x896 np/mt >= 1.0")


if __name__ == "__main__":
    main()
