"""Helpers shared by the op tests: bfloat16 rounding (numpy has no bf16) and tensor round trips."""

from __future__ import annotations

import metallic as mt
import numpy as np
from _refs import bf16 as bf16_round

DTYPES = ["f32", "f16", "bf16"]


def as_stored(x: np.ndarray, dtype: str) -> np.ndarray:
    """x as the values a tensor of `dtype` holds, as float32 (f16/bf16 round once)."""
    if dtype == "f16":
        return x.astype(np.float16).astype(np.float32)
    if dtype == "bf16":
        return bf16_round(x.astype(np.float32))
    return x.astype(np.float32)


def to_tensor(ctx: mt.Context, x: np.ndarray, dtype: str) -> mt.Tensor:
    """A tensor of `dtype` holding as_stored(x, dtype)."""
    if dtype == "f16":
        return ctx.tensor(x.astype(np.float16))
    return ctx.tensor(as_stored(x, dtype), dtype=dtype)


def read(t: mt.Tensor) -> np.ndarray:
    """The tensor's values as float64."""
    return np.asarray(t.numpy(), dtype=np.float64)


def random_stored(
    shape: tuple[int, ...], dtype: str, seed: int, scale: float = 1.0, shift: float = 0.0
) -> np.ndarray:
    """Seeded normal values * scale + shift, as a tensor of `dtype` stores them, in float64."""
    x = np.random.default_rng(seed).standard_normal(shape) * scale + shift
    return as_stored(x, dtype).astype(np.float64)


def assert_close(
    out: mt.Tensor, expected: np.ndarray, dtype: str, rtol: float, atol: float
) -> None:
    """out has `dtype`, expected's shape, and its values within the tolerances."""
    assert out.dtype == dtype
    assert out.shape == expected.shape
    np.testing.assert_allclose(read(out), expected, rtol=rtol, atol=atol)
