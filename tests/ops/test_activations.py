"""silu, gelu (exact and tanh) and swiglu (separate and fused [gate | up]) against numpy (float64)."""

from __future__ import annotations

import math

import metallic as mt
import numpy as np
import pytest
from _float_ref import DTYPES, assert_close, random_stored, read, to_tensor

# Sizes around the vector width (4) and the threadgroup width (256), odd ones, empty.
SHAPES = [(0,), (1,), (3,), (4,), (7,), (255,), (1027,), (3, 5), (2, 3, 17), (16, 64)]
# The outputs round once to the storage type: f32 agrees to a few ulp (the erf fit is < 1.2e-7
# relative); f16 / bf16 to half an ulp of their type plus the float error.
TOL = {"f32": (2e-6, 1e-7), "f16": (1e-3, 1e-5), "bf16": (8e-3, 1e-5)}

_erfc = np.vectorize(math.erfc, otypes=[np.float64])


def _silu(x: np.ndarray) -> np.ndarray:
    return x / (1.0 + np.exp(-x))


def _gelu(x: np.ndarray, approximate: str) -> np.ndarray:
    if approximate == "tanh":
        return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x**3)))
    return 0.5 * x * _erfc(-x / math.sqrt(2.0))  # = 1 + erf(x / sqrt(2)), without cancellation


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
def test_silu(ctx: mt.Context, shape: tuple[int, ...], dtype: str) -> None:
    x = random_stored(shape, dtype, 1, scale=3.0)
    assert_close(mt.ops.silu(to_tensor(ctx, x, dtype)), _silu(x), dtype, *TOL[dtype])


@pytest.mark.parametrize("approximate", ["none", "tanh"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
def test_gelu(ctx: mt.Context, shape: tuple[int, ...], dtype: str, approximate: str) -> None:
    x = random_stored(shape, dtype, 2, scale=3.0)
    out = mt.ops.gelu(to_tensor(ctx, x, dtype), approximate=approximate)
    assert_close(out, _gelu(x, approximate), dtype, *TOL[dtype])


def test_gelu_erf_is_float_accurate_over_its_range(ctx: mt.Context) -> None:
    """Every branch of the erf implementation (the series below 0.5, the erfc fit above, the
    saturated tails) against math.erf."""
    x = np.concatenate([np.linspace(-12, 12, 4001), [0.0, -0.0, 1e-30, -1e-8, 0.4999, 0.5]])
    x = x.astype(np.float32).astype(np.float64)
    out = read(mt.ops.gelu(ctx.tensor(x.astype(np.float32))))
    expected = _gelu(x, "none")
    # About 10 ulp down to x = -4; in the far negative tail (gelu < 1e-7) a few 1e-6 relative.
    near = x > -4
    np.testing.assert_allclose(out[near], expected[near], rtol=1e-6, atol=1e-30)
    np.testing.assert_allclose(out[~near], expected[~near], rtol=5e-6, atol=1e-30)


def test_silu_saturates_without_nan(ctx: mt.Context) -> None:
    x = np.array([-1e4, -100.0, 100.0, 1e4, np.inf, -np.inf], np.float32)
    out = mt.ops.silu(ctx.tensor(x)).numpy()
    np.testing.assert_array_equal(out, np.array([-0.0, -0.0, 100.0, 1e4, np.inf, np.nan]))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
def test_swiglu_separate(ctx: mt.Context, shape: tuple[int, ...], dtype: str) -> None:
    gate, up = random_stored(shape, dtype, 3, scale=3.0), random_stored(shape, dtype, 4, scale=3.0)
    out = mt.ops.swiglu(to_tensor(ctx, gate, dtype), to_tensor(ctx, up, dtype))
    assert_close(out, _silu(gate) * up, dtype, *TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(2,), (6,), (8,), (3, 10), (5, 2, 18), (7, 256), (0, 4)])
def test_swiglu_fused_takes_gate_from_the_first_half(
    ctx: mt.Context, shape: tuple[int, ...], dtype: str
) -> None:
    x = random_stored(shape, dtype, 5, scale=3.0)
    f = shape[-1] // 2
    out = mt.ops.swiglu(to_tensor(ctx, x, dtype))
    assert_close(out, _silu(x[..., :f]) * x[..., f:], dtype, *TOL[dtype])


def test_unaligned_view_takes_the_scalar_path(ctx: mt.Context) -> None:
    x = np.random.default_rng(6).standard_normal((5, 9)).astype(np.float32)
    t = ctx.tensor(x).slice(1, 4)  # starts 9 floats in: not 16-byte aligned
    np.testing.assert_allclose(read(mt.ops.silu(t)), _silu(x[1:4].astype(np.float64)), rtol=2e-6)


def test_bad_inputs(ctx: mt.Context) -> None:
    f32 = ctx.tensor(np.ones((4, 6), np.float32))
    with pytest.raises(mt.DTypeError, match="x must be f32, f16 or bf16, got i32"):
        mt.ops.silu(ctx.tensor(np.ones(4, np.int32)))
    with pytest.raises(mt.ShapeError, match="x must be contiguous"):
        mt.ops.gelu(f32.T)
    with pytest.raises(ValueError, match="approximate"):
        mt.ops.gelu(f32, approximate="erf")  # type: ignore[arg-type]
    with pytest.raises(mt.ShapeError, match="must be even"):
        mt.ops.swiglu(ctx.tensor(np.ones((2, 5), np.float32)))
    with pytest.raises(mt.ShapeError, match=r"up's shape \[4, 3\] must equal gate's \[4, 6\]"):
        mt.ops.swiglu(f32, ctx.tensor(np.ones((4, 3), np.float32)))
    with pytest.raises(mt.DTypeError, match="up is f16 but the input is f32"):
        mt.ops.swiglu(f32, ctx.tensor(np.ones((4, 6), np.float16)))
    with pytest.raises(mt.ShapeError, match="at least one dimension"):
        mt.ops.swiglu(ctx.tensor(np.float32(1.0)))
