"""rope against numpy: NeoX and GPT-J pairs, both layouts, integer and tensor positions, partial
rotary dims. The reference computes inv_freq and the angle in float32 as Hugging Face does, then
cos/sin and the rotation in float64."""

from __future__ import annotations

import metallic as mt
import numpy as np
import pytest
from _float_ref import DTYPES, assert_close, random_stored, read, to_tensor

# [batch, heads, seq, head_dim]: a single pair, odd heads and tokens, Qwen2.5's head_dim 64.
SHAPES = [(1, 1, 1, 2), (2, 3, 5, 8), (1, 3, 7, 64), (2, 2, 3, 6), (1, 14, 9, 64)]
# Rotations of unit-scale values, rounded once: f32 to float's cos/sin error, f16 / bf16 to about
# one ulp of their type.
TOL = {"f32": (1e-5, 1e-5), "f16": (2e-3, 4e-3), "bf16": (1.6e-2, 3e-2)}


def _rope(
    x: np.ndarray, positions: np.ndarray, theta: float, style: str, rotary_dim: int
) -> np.ndarray:
    """x [B, H, S, D] (float64), positions [B, S]."""
    exponent = np.arange(0, rotary_dim, 2, dtype=np.float32) / np.float32(rotary_dim)
    inv_freq = (np.float32(1.0) / np.float32(theta) ** exponent).astype(np.float32)
    angle = (positions.astype(np.float32)[..., None] * inv_freq).astype(np.float64)
    cos, sin = np.cos(angle)[:, None], np.sin(angle)[:, None]  # [B, 1, S, R/2]
    out = x.copy()
    half = rotary_dim // 2
    if style == "neox":
        a, b = (slice(0, half), slice(half, rotary_dim))
    else:
        a, b = (slice(0, rotary_dim, 2), slice(1, rotary_dim, 2))
    xa, xb = x[..., a], x[..., b]
    out[..., a] = xa * cos - xb * sin
    out[..., b] = xb * cos + xa * sin
    return out


@pytest.mark.parametrize("style", ["neox", "gptj"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
def test_bhsd_with_offset(ctx: mt.Context, shape: tuple[int, ...], dtype: str, style: str) -> None:
    b, _, s, d = shape
    x = random_stored(shape, dtype, 1)
    out = mt.ops.rope(to_tensor(ctx, x, dtype), offset=37, style=style)
    positions = np.broadcast_to(37 + np.arange(s), (b, s))
    assert_close(out, _rope(x, positions, 10000.0, style, d), dtype, *TOL[dtype])


@pytest.mark.parametrize("style", ["neox", "gptj"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_bshd_layout_matches_bhsd(ctx: mt.Context, dtype: str, style: str) -> None:
    x = random_stored((2, 3, 5, 8), dtype, 2)  # [B, H, S, D]
    x_bshd = np.ascontiguousarray(x.transpose(0, 2, 1, 3))
    out = mt.ops.rope(to_tensor(ctx, x_bshd, dtype), style=style, layout="bshd", theta=500.0)
    positions = np.broadcast_to(np.arange(5), (2, 5))
    expected = _rope(x, positions, 500.0, style, 8).transpose(0, 2, 1, 3)
    assert_close(out, expected, dtype, *TOL[dtype])


@pytest.mark.parametrize("style", ["neox", "gptj"])
@pytest.mark.parametrize(("head_dim", "rotary_dim"), [(10, 4), (64, 32), (8, 6), (6, 2)])
def test_partial_rotary_dims_pass_the_rest_through(
    ctx: mt.Context, head_dim: int, rotary_dim: int, style: str
) -> None:
    x = random_stored((1, 3, 4, head_dim), "f32", 3)
    out = mt.ops.rope(ctx.tensor(x.astype(np.float32)), style=style, rotary_dim=rotary_dim)
    expected = _rope(x, np.arange(4)[None], 10000.0, style, rotary_dim)
    assert_close(out, expected, "f32", *TOL["f32"])
    np.testing.assert_array_equal(read(out)[..., rotary_dim:], x[..., rotary_dim:])


@pytest.mark.parametrize("layout", ["bhsd", "bshd"])
def test_positions_tensor(ctx: mt.Context, layout: str) -> None:
    rng = np.random.default_rng(4)
    x = random_stored((2, 2, 6, 16), "f32", 5)
    per_batch = rng.integers(0, 2048, size=(2, 6)).astype(np.int32)
    shared = rng.integers(0, 2048, size=6).astype(np.int32)
    for positions, full in [(per_batch, per_batch), (shared, np.broadcast_to(shared, (2, 6)))]:
        xin = x if layout == "bhsd" else np.ascontiguousarray(x.transpose(0, 2, 1, 3))
        out = read(
            mt.ops.rope(ctx.tensor(xin.astype(np.float32)), ctx.tensor(positions), layout=layout)
        )
        if layout == "bshd":
            out = out.transpose(0, 2, 1, 3)
        np.testing.assert_allclose(out, _rope(x, full, 10000.0, "neox", 16), rtol=1e-5, atol=1e-5)


def test_large_positions(ctx: mt.Context) -> None:
    """Near position 32k one ulp of a float32 inv_freq (pow may differ by one between libraries)
    moves the angle by ~2e-3 rad, as in Hugging Face's float32 path: 5e-3 absolute."""
    x = random_stored((1, 2, 3, 64), "f32", 6)
    positions = np.array([[31997, 31998, 32767]], np.int32)
    out = mt.ops.rope(ctx.tensor(x.astype(np.float32)), ctx.tensor(positions[0]))
    assert_close(out, _rope(x, positions, 10000.0, "neox", 64), "f32", 1e-5, 5e-3)


def test_empty(ctx: mt.Context) -> None:
    assert mt.ops.rope(ctx.tensor(np.ones((1, 2, 0, 8), np.float32))).shape == (1, 2, 0, 8)


def test_bad_inputs(ctx: mt.Context) -> None:
    x = ctx.tensor(np.ones((1, 2, 3, 8), np.float32))
    with pytest.raises(mt.ShapeError, match=r"x must be 4-d \[batch, heads, seq, head_dim\]"):
        mt.ops.rope(ctx.tensor(np.ones((2, 3, 8), np.float32)))
    with pytest.raises(mt.ArgumentError, match="rotary_dim must be even and in"):
        mt.ops.rope(x, rotary_dim=3)
    with pytest.raises(mt.ArgumentError, match="rotary_dim must be even and in"):
        mt.ops.rope(x, rotary_dim=10)
    with pytest.raises(mt.ArgumentError, match=r"\(head_dim, the default\)"):
        mt.ops.rope(ctx.tensor(np.ones((1, 1, 1, 5), np.float32)))
    with pytest.raises(mt.ArgumentError, match="offset must be an integer"):
        mt.ops.rope(x, offset=1.5)
    with pytest.raises(mt.DTypeError, match="positions tensor .* must be i32, got f32"):
        mt.ops.rope(x, ctx.tensor(np.zeros(3, np.float32)))
    with pytest.raises(mt.ShapeError, match=r"positions must be \[seq\] = \[3\] or"):
        mt.ops.rope(x, ctx.tensor(np.zeros(4, np.int32)))
    with pytest.raises(mt.ArgumentError, match="theta must be > 0"):
        mt.ops.rope(x, theta=0.0)
    with pytest.raises(ValueError, match="style"):
        mt.ops.rope(x, style="llama")  # type: ignore[arg-type]
    with pytest.raises(mt.ShapeError, match="x must be contiguous"):
        mt.ops.rope(x.swapaxes(1, 2))
