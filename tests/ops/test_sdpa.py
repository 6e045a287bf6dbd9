"""scaled_dot_product_attention / sdpa (metal/sdpa; backends "legacy", "mpsgraph" and, on the
host, "row") against a float64 numpy reference (and torch's CPU implementation when the pinned torch is installed)."""

from __future__ import annotations

import metallic as mt
import numpy as np
import pytest

# Max abs error against float64, outputs of order 1. f16: inputs are f16 and the output is
# rounded to f16 (its spacing near 1 is 1e-3); the kernel accumulates in f32.
ATOL = {np.float32: 2e-5, np.float16: 3e-3}


def reference(
    q: np.ndarray,
    k: np.ndarray,
    v: np.ndarray,
    mask: np.ndarray | None = None,
    causal: bool = False,
    scale: float | None = None,
) -> np.ndarray:
    """softmax(q kᵀ scale + mask) v in float64; GQA by repeating KV heads; causal bottom-right;
    rows without a visible key give 0."""
    q, k, v = (x.astype(np.float64) for x in (q, k, v))
    rep = q.shape[1] // k.shape[1]
    k, v = np.repeat(k, rep, axis=1), np.repeat(v, rep, axis=1)
    s = q @ k.transpose(0, 1, 3, 2) * (1 / np.sqrt(q.shape[-1]) if scale is None else scale)
    if mask is not None:
        s = s + mask.astype(np.float64)
    lq, lk = s.shape[-2:]
    if causal:
        visible = np.arange(lk)[None, :] <= np.arange(lq)[:, None] + lk - lq
        s = np.where(visible, s, -np.inf)
    m = s.max(axis=-1, keepdims=True)
    e = np.exp(s - np.where(np.isfinite(m), m, 0))
    total = e.sum(axis=-1, keepdims=True)
    return np.where(total > 0, e / np.where(total > 0, total, 1), 0) @ v


def _qkv(
    shape: tuple[int, int, int, int, int, int], dtype: type, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    b, hq, hkv, lq, lk, d = shape
    rng = np.random.default_rng(seed)
    q = rng.standard_normal((b, hq, lq, d)).astype(dtype)
    k = rng.standard_normal((b, hkv, lk, d)).astype(dtype)
    v = rng.standard_normal((b, hkv, lk, d)).astype(dtype)
    return q, k, v


# (batch, q_heads, kv_heads, q_len, kv_len, head_dim): odd lengths, head_dim 32/64/80/128 and odd,
# GQA ratios 1, 2, 7; prefill (q_len == kv_len), decode (q_len 1..8, the KV range split over
# threadgroups beyond 128 keys) and chunked prefill (q_len < kv_len).
SHAPES = [
    (1, 2, 1, 5, 5, 32),
    (2, 4, 2, 9, 13, 64),
    (1, 4, 4, 33, 33, 128),
    (1, 3, 3, 17, 17, 80),
    (1, 2, 2, 7, 7, 5),
    (1, 14, 2, 1, 700, 64),
    (2, 7, 1, 3, 301, 80),
    (1, 8, 2, 8, 160, 32),
    (1, 2, 1, 6, 40, 64),
]


@pytest.fixture(params=["legacy", "row", "mpsgraph"])
def bctx(ctx: mt.Context, request: pytest.FixtureRequest) -> mt.Context:
    """ctx with the sdpa backend forced to each implementation (skipped where unavailable)."""
    if request.param not in mt.backends(ctx)["sdpa"]:
        pytest.skip(f"backend {request.param} is not available on {ctx.device}")
    ctx.set_backend("sdpa", request.param)
    return ctx


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("shape", SHAPES)
def test_matches_reference(
    bctx: mt.Context, shape: tuple[int, int, int, int, int, int], causal: bool, dtype: type
) -> None:
    q, k, v = _qkv(shape, dtype)
    out = mt.ops.scaled_dot_product_attention(
        bctx.tensor(q), bctx.tensor(k), bctx.tensor(v), causal=causal
    )
    assert out.shape == q.shape and out.dtype == ("f32" if dtype == np.float32 else "f16")
    np.testing.assert_allclose(
        out.numpy(), reference(q, k, v, causal=causal), rtol=0, atol=ATOL[dtype]
    )


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
@pytest.mark.parametrize("mask_shape", [(6, 9), (2, 1, 6, 9), (2, 4, 6, 9), (1, 4, 1, 9)])
def test_additive_mask(bctx: mt.Context, dtype: type, mask_shape: tuple[int, ...]) -> None:
    q, k, v = _qkv((2, 4, 2, 6, 9, 32), dtype, seed=1)
    rng = np.random.default_rng(2)
    mask = rng.standard_normal(mask_shape).astype(dtype)
    mask[..., 3] = -np.inf  # a masked-out key
    out = mt.ops.sdpa(bctx.tensor(q), bctx.tensor(k), bctx.tensor(v), mask=bctx.tensor(mask))
    np.testing.assert_allclose(out.numpy(), reference(q, k, v, mask=mask), atol=ATOL[dtype])


def test_mask_with_causal_and_scale(bctx: mt.Context) -> None:
    q, k, v = _qkv((1, 2, 2, 4, 300, 64), np.float32, seed=3)
    mask = np.random.default_rng(4).standard_normal((4, 300)).astype(np.float32)
    out = mt.ops.sdpa(
        bctx.tensor(q), bctx.tensor(k), bctx.tensor(v), bctx.tensor(mask), causal=True, scale=0.3
    )
    np.testing.assert_allclose(
        out.numpy(), reference(q, k, v, mask, causal=True, scale=0.3), atol=ATOL[np.float32]
    )


def test_fully_masked_rows_give_zero(bctx: mt.Context) -> None:
    q, k, v = _qkv((1, 1, 1, 3, 200, 32), np.float32, seed=5)
    mask = np.zeros((3, 200), np.float32)
    mask[1] = -np.inf
    out = mt.ops.sdpa(bctx.tensor(q), bctx.tensor(k), bctx.tensor(v), bctx.tensor(mask)).numpy()
    np.testing.assert_array_equal(out[0, 0, 1], 0)
    np.testing.assert_allclose(out, reference(q, k, v, mask), atol=ATOL[np.float32])


def test_reads_the_valid_prefix_of_a_kv_cache(bctx: mt.Context) -> None:
    """kv_cache_write returns a strided view of positions [0, p + n): attention reads only it."""
    q, k, v = _qkv((1, 6, 2, 1, 37, 64), np.float32, seed=6)
    k_cache = bctx.tensor(np.full((1, 2, 64, 64), np.nan, np.float32))  # unwritten: never read
    v_cache = bctx.tensor(np.full((1, 2, 64, 64), np.nan, np.float32))
    mt.ops.kv_cache_write(k_cache, bctx.tensor(k[:, :, :36]), 0)
    mt.ops.kv_cache_write(v_cache, bctx.tensor(v[:, :, :36]), 0)
    k_valid = mt.ops.kv_cache_write(k_cache, bctx.tensor(k[:, :, 36:]), 36)
    v_valid = mt.ops.kv_cache_write(v_cache, bctx.tensor(v[:, :, 36:]), 36)
    out = mt.ops.sdpa(bctx.tensor(q), k_valid, v_valid, causal=True)
    np.testing.assert_allclose(out.numpy(), reference(q, k, v, causal=True), atol=2e-5)


def test_transposed_query_view(bctx: mt.Context) -> None:
    """q as [batch, seq, heads, head_dim] transposed to [batch, heads, seq, head_dim] (a view)."""
    q, k, v = _qkv((1, 3, 3, 5, 5, 32), np.float32, seed=7)
    q_view = bctx.tensor(np.ascontiguousarray(q.transpose(0, 2, 1, 3))).swapaxes(1, 2)
    out = mt.ops.sdpa(q_view, bctx.tensor(k), bctx.tensor(v), causal=True)
    np.testing.assert_allclose(out.numpy(), reference(q, k, v, causal=True), atol=2e-5)


def test_empty(bctx: mt.Context) -> None:
    q, k, v = _qkv((1, 2, 1, 0, 4, 32), np.float32)
    assert mt.ops.sdpa(bctx.tensor(q), bctx.tensor(k), bctx.tensor(v)).shape == (1, 2, 0, 32)
    q, k, v = _qkv((1, 2, 1, 3, 0, 32), np.float32)  # no keys: every row sees nothing
    np.testing.assert_array_equal(
        mt.ops.sdpa(bctx.tensor(q), bctx.tensor(k), bctx.tensor(v)).numpy(), 0
    )


def test_matches_torch(bctx: mt.Context) -> None:
    torch = pytest.importorskip("torch")
    q, k, v = _qkv((2, 6, 2, 7, 11, 64), np.float32, seed=8)
    mask = np.random.default_rng(9).standard_normal((2, 1, 7, 11)).astype(np.float32)
    expected = torch.nn.functional.scaled_dot_product_attention(
        *(torch.from_numpy(x) for x in (q, k, v)), attn_mask=torch.from_numpy(mask), enable_gqa=True
    ).numpy()
    out = mt.ops.sdpa(bctx.tensor(q), bctx.tensor(k), bctx.tensor(v), bctx.tensor(mask))
    np.testing.assert_allclose(out.numpy(), expected, atol=2e-5)


class TestBackend:
    def test_auto_is_chosen_and_recorded(self, ctx: mt.Context) -> None:
        assert "legacy" in mt.backends(ctx)["sdpa"]
        q, k, v = _qkv((1, 1, 1, 2, 2, 32), np.float32)
        ctx.backend_events()  # clear
        mt.ops.sdpa(ctx.tensor(q), ctx.tensor(k), ctx.tensor(v))
        auto = "row" if ctx.device == "host" else "legacy"  # the host device's plain-loop form
        assert [e[:2] for e in ctx.backend_events()] == [("sdpa", auto)]
        ctx.set_backend("sdpa", "legacy")
        mt.ops.sdpa(ctx.tensor(q), ctx.tensor(k), ctx.tensor(v))
        assert ctx.backend_events()[-1][2] == "forced on this context"
        with pytest.raises(mt.ArgumentError, match="valid: auto, legacy"):
            ctx.set_backend("sdpa", "nope")

    def test_environment_forces_a_backend(
        self, device: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        q, k, v = _qkv((1, 1, 1, 2, 2, 32), np.float32)
        monkeypatch.setenv("METALLIC_FORCE_SDPA_BACKEND", "legacy")
        ctx = mt.Context(device=device)
        mt.ops.sdpa(ctx.tensor(q), ctx.tensor(k), ctx.tensor(v))
        assert ctx.backend_events()[-1][2] == "forced by METALLIC_FORCE_SDPA_BACKEND"
        monkeypatch.setenv("METALLIC_FORCE_SDPA_BACKEND", "nope")
        ctx = mt.Context(device=device)
        with pytest.raises(mt.ArgumentError, match="unknown backend 'nope'"):
            mt.ops.sdpa(ctx.tensor(q), ctx.tensor(k), ctx.tensor(v))


class TestBadInput:
    def _t(self, ctx: mt.Context, shape: tuple[int, ...], dtype: type = np.float32) -> mt.Tensor:
        return ctx.tensor(np.zeros(shape, dtype))

    def test_dtypes(self, ctx: mt.Context) -> None:
        a, h = self._t(ctx, (1, 1, 2, 8)), self._t(ctx, (1, 1, 2, 8), np.float16)
        with pytest.raises(mt.DTypeError, match="one dtype"):
            mt.ops.sdpa(a, h, h)
        i = self._t(ctx, (1, 1, 2, 8), np.int32)
        with pytest.raises(mt.DTypeError, match="f32 or f16"):
            mt.ops.sdpa(i, i, i)
        with pytest.raises(mt.DTypeError, match="the mask must have q's dtype"):
            mt.ops.sdpa(a, a, a, mask=self._t(ctx, (2, 2), np.float16))

    def test_shapes(self, ctx: mt.Context) -> None:
        q = self._t(ctx, (1, 4, 2, 8))
        with pytest.raises(mt.ShapeError, match=r"\[batch, heads, seq, head_dim\]"):
            mt.ops.sdpa(self._t(ctx, (4, 2, 8)), q, q)
        with pytest.raises(mt.ShapeError, match="multiple of kv_heads"):
            kv = self._t(ctx, (1, 3, 2, 8))
            mt.ops.sdpa(q, kv, kv)
        with pytest.raises(mt.ShapeError, match="must be equal and match q"):
            mt.ops.sdpa(q, self._t(ctx, (1, 2, 2, 8)), self._t(ctx, (1, 2, 3, 8)))
        with pytest.raises(mt.ShapeError, match="must be equal and match q"):
            kv = self._t(ctx, (1, 2, 2, 4))
            mt.ops.sdpa(q, kv, kv)
        big = self._t(ctx, (1, 1, 2, 256))
        with pytest.raises(mt.ShapeError, match="head_dim 256 is above the supported 128"):
            mt.ops.sdpa(big, big, big)
        with pytest.raises(mt.ShapeError, match="q_len <= kv_len"):
            kv = self._t(ctx, (1, 2, 1, 8))
            mt.ops.sdpa(q, kv, kv, causal=True)

    def test_mask_shape(self, ctx: mt.Context) -> None:
        q = self._t(ctx, (1, 2, 3, 8))
        with pytest.raises(mt.ShapeError, match="does not broadcast"):
            mt.ops.sdpa(q, q, q, mask=self._t(ctx, (3, 4)))
        with pytest.raises(mt.ShapeError, match="2 to 4 dimensions"):
            mt.ops.sdpa(q, q, q, mask=self._t(ctx, (3,)))
        with pytest.raises(mt.ShapeError, match="last dimension must be contiguous"):
            mt.ops.sdpa(q, q, q, mask=self._t(ctx, (3, 3)).T)

    def test_strided_head_dim(self, ctx: mt.Context) -> None:
        q = self._t(ctx, (1, 2, 8, 8)).swapaxes(2, 3)
        with pytest.raises(mt.ShapeError, match="head_dim must be contiguous"):
            mt.ops.sdpa(q, q, q)

    def test_reversed_view(self, ctx: mt.Context) -> None:
        q = self._t(ctx, (1, 2, 8, 8))[:, :, ::-1]
        with pytest.raises(mt.ShapeError, match=r"negative stride .*q.contiguous\(\)"):
            mt.ops.sdpa(q, q, q)

    def test_scale(self, ctx: mt.Context) -> None:
        q = self._t(ctx, (1, 1, 2, 8))
        with pytest.raises(mt.ArgumentError, match="scale must be finite"):
            mt.ops.sdpa(q, q, q, scale=float("inf"))
