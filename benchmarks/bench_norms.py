"""Row-wise transformer ops on metallic next to a numpy implementation of the same op, at the
shapes of Qwen2.5-0.5B (hidden 896, 14 query / 2 KV heads, head_dim 64, ffn 4864) and
all-MiniLM-L6-v2 (hidden 384, 12 heads, ffn 1536, 32 sequences x 128 tokens).

Per case: microseconds per op (metallic: N calls encoded lazily, one synchronize at the end, / N;
numpy: N calls) and GB/s counting the minimum traffic (each input read once, each output written
once), medians of the repetitions. Each metallic result is checked against the numpy one first.

Run (with metallic importable; numpy's BLAS variables unset, as they slow numpy on this machine):
  env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/bench_norms.py [--device host]
      [--softmax-backend auto|vec|block|row] [--reps R] [--budget S]
"""

from __future__ import annotations

import argparse
import platform
from collections.abc import Callable
from typing import Any

import metallic as mt
import numpy as np
from timing import machine_line, seconds_per_call

Case = tuple[str, str, Callable[[], Any], Callable[[], Any], int]


def np_rms(x: np.ndarray, w: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * w


def np_layer(x: np.ndarray, w: np.ndarray, b: np.ndarray, eps: float = 1e-5) -> np.ndarray:
    mean = x.mean(axis=-1, keepdims=True)
    d = x - mean
    return d / np.sqrt(np.mean(d * d, axis=-1, keepdims=True) + eps) * w + b


def np_softmax(x: np.ndarray, scale: float, causal: bool, mask: np.ndarray | None) -> np.ndarray:
    s = x * np.float32(scale)
    if mask is not None:
        s = s + mask
    if causal:
        lq, lk = s.shape[-2:]
        visible = np.arange(lk)[None, :] <= np.arange(lq)[:, None] + lk - lq
        s = np.where(visible, s, np.float32(-np.inf))
    e = np.exp(s - s.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def np_rope(x: np.ndarray, offset: int, theta: float = 10000.0) -> np.ndarray:
    """NeoX rope of x [B, H, S, D], cos/sin computed per call as the op does."""
    d, s = x.shape[-1], x.shape[-2]
    inv_freq = 1.0 / np.float32(theta) ** (np.arange(0, d, 2, dtype=np.float32) / np.float32(d))
    angle = (np.arange(offset, offset + s, dtype=np.float32)[:, None] * inv_freq)[None, None]
    cos, sin = np.cos(angle), np.sin(angle)
    x1, x2 = x[..., : d // 2], x[..., d // 2 :]
    return np.concatenate([x1 * cos - x2 * sin, x2 * cos + x1 * sin], axis=-1)


def np_silu(x: np.ndarray) -> np.ndarray:
    return x / (np.float32(1.0) + np.exp(-x))


def np_gelu_tanh(x: np.ndarray) -> np.ndarray:
    c = np.float32(np.sqrt(2.0 / np.pi))
    return np.float32(0.5) * x * (np.float32(1.0) + np.tanh(c * (x + np.float32(0.044715) * x**3)))


def cases(ctx: Any) -> list[Case]:
    """(model, op and shape, metallic call, numpy call, bytes of minimum traffic)."""
    rng = np.random.default_rng(0)

    def arr(*shape: int) -> np.ndarray:
        return rng.standard_normal(shape).astype(np.float32)

    out: list[Case] = []

    def add(model: str, what: str, m: Callable[[], Any], n: Callable[[], Any], nbytes: int) -> None:
        out.append((model, what, m, n, nbytes))

    for model, hidden, tokens in [("qwen2.5-0.5b", 896, 1), ("qwen2.5-0.5b", 896, 128)]:
        x, r, w = arr(tokens, hidden), arr(tokens, hidden), arr(hidden)
        tx, tr, tw = ctx.tensor(x), ctx.tensor(r), ctx.tensor(w)
        nb = x.nbytes
        add(
            model,
            f"rms_norm [{tokens}, {hidden}]",
            lambda tx=tx, tw=tw: mt.ops.rms_norm(tx, tw),
            lambda x=x, w=w: np_rms(x, w),
            2 * nb + w.nbytes,
        )
        add(
            model,
            f"add_rms_norm [{tokens}, {hidden}]",
            lambda tx=tx, tr=tr, tw=tw: mt.ops.add_rms_norm(tx, tr, tw),
            lambda x=x, r=r, w=w: (np_rms(x + r, w), x + r),
            4 * nb + w.nbytes,
        )
    x, w, b = arr(32 * 128, 384), arr(384), arr(384)
    tx, tw, tb = ctx.tensor(x), ctx.tensor(w), ctx.tensor(b)
    add(
        "minilm-l6",
        "layer_norm [4096, 384]",
        lambda: mt.ops.layer_norm(tx, tw, tb),
        lambda: np_layer(x, w, b),
        2 * x.nbytes,
    )

    for shape, causal in [((1, 14, 1, 4096), True), ((1, 14, 128, 128), True)]:
        s = arr(*shape)
        ts = ctx.tensor(s)
        add(
            "qwen2.5-0.5b",
            f"softmax {list(shape)}{' causal' if causal else ''}",
            lambda ts=ts, c=causal: mt.ops.softmax(ts, scale=0.125, causal=c),
            lambda s=s, c=causal: np_softmax(s, 0.125, c, None),
            2 * s.nbytes,
        )
    s, mask = arr(32, 12, 128, 128), np.zeros((32, 1, 1, 128), np.float32)
    mask[:, ..., 100:] = -np.inf  # padding
    ts, tm = ctx.tensor(s), ctx.tensor(mask)
    add(
        "minilm-l6",
        "softmax [32, 12, 128, 128] + mask [32, 1, 1, 128]",
        lambda: mt.ops.softmax(ts, scale=0.125, mask=tm),
        lambda: np_softmax(s, 0.125, False, mask),
        2 * s.nbytes,
    )

    for heads, seq, offset in [(14, 1, 1000), (14, 128, 0), (2, 128, 0)]:
        q = arr(1, heads, seq, 64)
        tq = ctx.tensor(q)
        add(
            "qwen2.5-0.5b",
            f"rope [1, {heads}, {seq}, 64] offset {offset}",
            lambda tq=tq, o=offset: mt.ops.rope(tq, offset=o),
            lambda q=q, o=offset: np_rope(q, o),
            2 * q.nbytes,
        )

    g, u = arr(128, 4864), arr(128, 4864)
    tg, tu = ctx.tensor(g), ctx.tensor(u)
    add(
        "qwen2.5-0.5b",
        "swiglu [128, 4864]",
        lambda: mt.ops.swiglu(tg, tu),
        lambda: np_silu(g) * u,
        3 * g.nbytes,
    )
    gu = arr(128, 2 * 4864)
    tgu = ctx.tensor(gu)
    add(
        "qwen2.5-0.5b",
        "swiglu fused [128, 2*4864]",
        lambda: mt.ops.swiglu(tgu),
        lambda: np_silu(gu[:, :4864]) * gu[:, 4864:],
        3 * g.nbytes,
    )
    h = arr(4096, 1536)
    th = ctx.tensor(h)
    add(
        "minilm-l6",
        "gelu tanh [4096, 1536]",
        lambda: mt.ops.gelu(th, approximate="tanh"),
        lambda: np_gelu_tanh(h),
        2 * h.nbytes,
    )
    return out


def first(result: Any) -> np.ndarray:
    """The first output of an op (metallic tensor or numpy array) as a numpy array."""
    out = result[0] if isinstance(result, (tuple, list)) else result
    return np.asarray(out if isinstance(out, np.ndarray) else out.numpy())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--budget", type=float, default=0.2, help="seconds per repetition")
    parser.add_argument("--softmax-backend", default="auto", help="force vec, block or row")
    args = parser.parse_args()
    ctx = mt.Context(device=args.device)
    ctx.set_backend("softmax", args.softmax_backend)
    print(machine_line())
    print(f"device: {ctx.device}; python {platform.python_version()}, numpy {np.__version__}")
    print(f"f32; median of {args.reps} repetitions; us per op; GB/s of the minimum traffic")
    print(f"softmax backend: {args.softmax_backend}\n")
    header = f"{'model':<13} {'op':<52} {'mt us':>9} {'np us':>9} {'mt GB/s':>8} {'np GB/s':>8} {'mt/np':>6}"
    print(header)
    print("-" * len(header))
    for model, what, m_call, n_call, nbytes in cases(ctx):
        np.testing.assert_allclose(first(m_call()), first(n_call()), rtol=2e-3, atol=2e-4)

        def m_run(iters: int, m_call: Callable[[], Any] = m_call) -> None:
            for _ in range(iters):
                m_call()
            ctx.synchronize()

        def n_run(iters: int, n_call: Callable[[], Any] = n_call) -> None:
            for _ in range(iters):
                n_call()

        tm = seconds_per_call(m_run, args.budget, args.reps)
        tn = seconds_per_call(n_run, args.budget, args.reps)
        print(
            f"{model:<13} {what:<52} {tm * 1e6:9.1f} {tn * 1e6:9.1f} {nbytes / tm / 1e9:8.2f} "
            f"{nbytes / tn / 1e9:8.2f} {tn / tm:6.2f}"
        )
    print("\nmt/np > 1: metallic is faster. Targets: rms_norm, softmax, rope >= 1x numpy.")


if __name__ == "__main__":
    main()
