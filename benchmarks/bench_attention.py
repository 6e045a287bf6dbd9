"""Scaled dot-product attention (mt.ops.sdpa, backend legacy) next to a numpy implementation.

Shapes: Qwen2.5-0.5B (14 query / 2 KV heads, head_dim 64; causal prefill of 128 tokens, decode
of 1 token against a KV cache of 1k and 4k) and all-MiniLM-L6-v2 (12 heads, head_dim 32, a batch
of 32 sequences of 128 tokens, no mask). numpy: f32, GQA by grouping the query heads of a KV
head (no repeated K/V), scores materialised, softmax, matmul — numpy's BLAS does the products.

Reports the median wall time per call, the median CPU time of the process (all threads: on a
shared machine it shows the work when the wall time shows the queue) and, counting 4 * batch * q_heads * q_len * kv_len * head_dim
flops (all score and output products, also the causally masked ones) and the bytes of q, k, v
and the output read or written once: GFLOP/s and GB/s.

Run (with metallic importable):  python benchmarks/bench_attention.py [--device host|metal]
  [--reps N] [--dtype f32|f16]. numpy's BLAS is slowed by OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE
  on some machines: unset them for this command (env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE).
"""

from __future__ import annotations

import argparse
import platform
import statistics
from collections.abc import Callable

import metallic as mt
import numpy as np
from timing import time_runs

# name, batch, q_heads, kv_heads, q_len, kv_len, head_dim, causal
CASES = [
    ("qwen2.5-0.5b prefill 128", 1, 14, 2, 128, 128, 64, True),
    ("qwen2.5-0.5b decode kv=1k", 1, 14, 2, 1, 1024, 64, True),
    ("qwen2.5-0.5b decode kv=4k", 1, 14, 2, 1, 4096, 64, True),
    ("minilm 32x128", 32, 12, 12, 128, 128, 32, False),
]


def numpy_sdpa(q: np.ndarray, k: np.ndarray, v: np.ndarray, causal: bool) -> np.ndarray:
    """softmax(q kᵀ / sqrt(d) [causal, bottom-right]) v in f32 with GQA by grouping query heads."""
    b, hq, lq, d = q.shape
    hkv, lk = k.shape[1], k.shape[2]
    g = q.reshape(b, hkv, (hq // hkv) * lq, d)  # the query heads of a KV head, stacked
    s = g @ k.transpose(0, 1, 3, 2) * np.float32(1 / np.sqrt(d))
    if causal:
        pos = np.tile(np.arange(lq), hq // hkv)[:, None] + (lk - lq)
        s = np.where(np.arange(lk)[None, :] <= pos, s, np.float32(-np.inf))
    s = np.exp(s - s.max(axis=-1, keepdims=True))
    s /= s.sum(axis=-1, keepdims=True)
    return (s @ v).reshape(b, hq, lq, d)


def median_seconds(fn: Callable[[], object], reps: int) -> tuple[float, float]:
    """Medians of the wall time and of the process's CPU time (all threads) per call."""
    wall, cpu = time_runs(fn, reps)
    return statistics.median(wall), statistics.median(cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--dtype", default="f32", choices=["f32", "f16"])
    args = parser.parse_args()
    ctx = mt.Context(device=args.device)
    dtype = np.float32 if args.dtype == "f32" else np.float16
    print(
        f"machine: {platform.machine()} {platform.processor()}, device {args.device}, {args.dtype}"
    )
    header = (
        f"{'case':28} {'mt ms':>9} {'mt cpu ms':>9} {'GFLOP/s':>8} {'GB/s':>7} "
        f"{'numpy ms':>9} {'np cpu ms':>9} {'GFLOP/s':>8} {'GB/s':>7}"
    )
    print(header)
    rng = np.random.default_rng(0)
    for case in CASES:
        print(measure(ctx, rng, dtype, args.reps, *case))


def measure(
    ctx: mt.Context,
    rng: np.random.Generator,
    dtype: type,
    reps: int,
    name: str,
    b: int,
    hq: int,
    hkv: int,
    lq: int,
    lk: int,
    d: int,
    causal: bool,
) -> str:
    """One line of the table: metallic's and numpy's time, GFLOP/s and GB/s for one shape."""
    q = rng.standard_normal((b, hq, lq, d)).astype(dtype)
    k = rng.standard_normal((b, hkv, lk, d)).astype(dtype)
    v = rng.standard_normal((b, hkv, lk, d)).astype(dtype)
    tq, tk, tv = ctx.tensor(q), ctx.tensor(k), ctx.tensor(v)

    def run_mt() -> None:
        mt.ops.sdpa(tq, tk, tv, causal=causal)
        ctx.synchronize()

    qf, kf, vf = q.astype(np.float32), k.astype(np.float32), v.astype(np.float32)
    t_mt, cpu_mt = median_seconds(run_mt, reps)
    t_np, cpu_np = median_seconds(lambda: numpy_sdpa(qf, kf, vf, causal), reps)
    flops = 4.0 * b * hq * lq * lk * d
    nbytes = (2 * q.size + k.size + v.size) * q.itemsize
    return (
        f"{name:28} {t_mt * 1e3:9.2f} {cpu_mt * 1e3:9.2f} {flops / t_mt / 1e9:8.2f} "
        f"{nbytes / t_mt / 1e9:7.2f} {t_np * 1e3:9.2f} {cpu_np * 1e3:9.2f} "
        f"{flops / t_np / 1e9:8.2f} {nbytes / t_np / 1e9:7.2f}"
    )


if __name__ == "__main__":
    main()
