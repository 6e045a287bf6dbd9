"""metallic.nn.Attention and KVCache against a numpy reference: prefill, chunked and one-token
decode steps equal attention over the whole sequence; GQA, RoPE styles, biases, f32 and f16."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import metallic as mt
import numpy as np
import pytest
from metallic.nn import Attention, KVCache, Linear, RoPE

THETA = 10000.0
TOL = {"f32": 1e-4, "f16": 2e-2}  # absolute, outputs of order 1


@dataclass
class Shape:
    heads: int
    kv_heads: int
    head_dim: int
    hidden: int
    style: str
    bias: bool


SHAPES = [
    Shape(4, 2, 8, 24, "neox", True),  # GQA, Qwen2's biases
    Shape(3, 1, 6, 10, "gptj", False),  # one KV head for all (MQA), odd sizes
    Shape(2, 2, 16, 20, "neox", False),  # plain multi-head
]


def _weights(s: Shape, seed: int) -> dict[str, np.ndarray[Any, Any]]:
    """Random projections (std 1/sqrt(fan-in), so activations stay of order 1)."""
    rng = np.random.default_rng(seed)
    outs = {"q": s.heads * s.head_dim, "k": s.kv_heads * s.head_dim, "v": s.kv_heads * s.head_dim}
    w = {n: rng.standard_normal((o, s.hidden)) / np.sqrt(s.hidden) for n, o in outs.items()}
    w["o"] = rng.standard_normal((s.hidden, s.heads * s.head_dim)) / np.sqrt(s.heads * s.head_dim)
    if s.bias:
        w |= {f"b{n}": rng.standard_normal(o) * 0.1 for n, o in outs.items()}
    return w


def _rope(x: np.ndarray[Any, Any], style: str) -> np.ndarray[Any, Any]:
    """x [n, heads, d] rotated for positions 0..n-1."""
    n, _, d = x.shape
    angle = np.arange(n)[:, None] * THETA ** (-np.arange(0, d, 2) / d)  # [n, d/2]
    cos, sin = np.cos(angle)[:, None], np.sin(angle)[:, None]
    a, b = (
        (slice(0, d // 2), slice(d // 2, d))
        if style == "neox"
        else (slice(0, d, 2), slice(1, d, 2))
    )
    out = x.copy()
    out[..., a] = x[..., a] * cos - x[..., b] * sin
    out[..., b] = x[..., b] * cos + x[..., a] * sin
    return out


def _reference(x: np.ndarray[Any, Any], w: dict[str, Any], s: Shape) -> np.ndarray[Any, Any]:
    """Causal attention over the whole sequence x [n, hidden], in float64."""
    n = x.shape[0]

    def proj(name: str, heads: int) -> np.ndarray[Any, Any]:
        y = x @ w[name].T + w.get(f"b{name}", 0.0)
        return np.asarray(y.reshape(n, heads, s.head_dim))

    q, k = _rope(proj("q", s.heads), s.style), _rope(proj("k", s.kv_heads), s.style)
    v = proj("v", s.kv_heads)
    group = s.heads // s.kv_heads
    k, v = np.repeat(k, group, axis=1), np.repeat(v, group, axis=1)
    scores = np.einsum("qhd,khd->hqk", q, k) / np.sqrt(s.head_dim)
    scores = np.where(np.tril(np.ones((n, n), bool)), scores, -np.inf)
    p = np.exp(scores - scores.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    attn = np.einsum("hqk,khd->qhd", p, v).reshape(n, s.heads * s.head_dim)
    return np.asarray(attn @ w["o"].T)


def _module(
    ctx: mt.Context, w: dict[str, Any], s: Shape, max_context: int, dtype: str
) -> Attention:
    def linear(name: str) -> Linear:
        bias = w.get(f"b{name}")
        return Linear(
            ctx.tensor(w[name].astype(np.float32), dtype),
            None if bias is None else ctx.tensor(bias.astype(np.float32), dtype),
        )

    cache = KVCache(ctx, s.kv_heads, s.head_dim, max_context, dtype)
    rope = RoPE(THETA, "neox" if s.style == "neox" else "gptj")
    return Attention(
        linear("q"),
        linear("k"),
        linear("v"),
        linear("o"),
        s.heads,
        s.kv_heads,
        s.head_dim,
        rope,
        cache,
    )


def _run(attn: Attention, ctx: mt.Context, x: np.ndarray[Any, Any], start: int, dtype: str) -> Any:
    return attn(ctx.tensor(x.astype(np.float32), dtype), start).numpy().astype(np.float64)


@pytest.mark.parametrize("dtype", ["f32", "f16"])
@pytest.mark.parametrize(
    "s", SHAPES, ids=lambda s: f"h{s.heads}kv{s.kv_heads}d{s.head_dim}{s.style}"
)
def test_prefill_then_decode_equals_whole_sequence(ctx: mt.Context, s: Shape, dtype: str) -> None:
    """A 7-token prefill, a 3-token chunk, then 3 single tokens, each through the cache."""
    w = _weights(s, seed=1)
    x = np.random.default_rng(2).standard_normal((13, s.hidden))
    attn = _module(ctx, w, s, max_context=16, dtype=dtype)
    steps, start = [], 0
    for n in (7, 3, 1, 1, 1):
        steps.append(_run(attn, ctx, x[start : start + n], start, dtype))
        start += n
    assert attn.cache.length == 13
    want = _reference(x, w, s)
    np.testing.assert_allclose(np.concatenate(steps), want, atol=TOL[dtype], rtol=0)
    # Recomputing the whole sequence on a fresh cache gives the same.
    fresh = _module(ctx, w, s, max_context=13, dtype=dtype)
    np.testing.assert_allclose(_run(fresh, ctx, x, 0, dtype), want, atol=TOL[dtype], rtol=0)


def test_rewinding_overwrites_the_tail(ctx: mt.Context) -> None:
    """Writing at start < length forgets the later positions (Decoder.logits(start=...))."""
    s = SHAPES[0]
    w = _weights(s, seed=3)
    rng = np.random.default_rng(4)
    a, b = rng.standard_normal((6, s.hidden)), rng.standard_normal((3, s.hidden))
    attn = _module(ctx, w, s, max_context=8, dtype="f32")
    _run(attn, ctx, a, 0, "f32")
    got = _run(attn, ctx, b, 2, "f32")
    assert attn.cache.length == 5
    want = _reference(np.concatenate([a[:2], b]), w, s)[2:]
    np.testing.assert_allclose(got, want, atol=TOL["f32"], rtol=0)


def test_an_empty_step_gives_no_rows_and_keeps_the_cache(ctx: mt.Context) -> None:
    s = SHAPES[1]
    w = _weights(s, seed=6)
    x = np.random.default_rng(7).standard_normal((4, s.hidden))
    attn = _module(ctx, w, s, max_context=4, dtype="f32")
    _run(attn, ctx, x[:3], 0, "f32")
    assert _run(attn, ctx, x[:0], 3, "f32").shape == (0, s.hidden)
    assert attn.cache.length == 3
    got = _run(attn, ctx, x[3:], 3, "f32")
    np.testing.assert_allclose(got, _reference(x, w, s)[3:], atol=TOL["f32"], rtol=0)


def test_bad_inputs_say_what_to_change(ctx: mt.Context) -> None:
    s = SHAPES[0]
    w = _weights(s, seed=5)
    attn = _module(ctx, w, s, max_context=4, dtype="f32")
    x = ctx.tensor(np.zeros((3, s.hidden), np.float32))
    with pytest.raises(ValueError, match=r"the cache holds 0 positions; start must be in 0..0"):
        attn(x, 1)
    attn(x, 0)
    with pytest.raises(ValueError, match=r"5 positions exceed the cache's max_context of 4"):
        attn(x[:2], 3)
    assert attn.cache.length == 3  # a refused write changes nothing
    with pytest.raises(ValueError, match=r"one sequence \[n, hidden\]"):
        attn(x.reshape(1, 3, s.hidden), 0)
    q, k, v, o = attn.q, attn.k, attn.v, attn.o
    cache = KVCache(ctx, s.kv_heads, s.head_dim, 4)
    rope = attn.rope
    with pytest.raises(ValueError, match=r"heads \(4\) must be a multiple of kv_heads \(3\)"):
        Attention(q, k, v, o, 4, 3, s.head_dim, rope, cache)
    with pytest.raises(ValueError, match=r"the k projection gives 16 features, 8 expected"):
        Attention(q, k, v, o, 4, 1, s.head_dim, rope, cache)
    with pytest.raises(ValueError, match=r"the cache is \[1, 2, 4, 4\]"):
        Attention(q, k, v, o, 8, 4, 4, rope, KVCache(ctx, 2, 4, 4))
