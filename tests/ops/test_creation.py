"""full/zeros/ones, arange and the seeded Philox4x32-10 random ops (metal/creation) against
numpy: values, dtypes, determinism across runs and sizes, distribution statistics, bad input."""

from __future__ import annotations

import math

import metallic as mt
import numpy as np
import pytest
from _refs import philox4x32_10
from layout_refs import DTYPES, NUMPY, bf16_round

SHAPES = [(1,), (7,), (1029,), (3, 5, 2), (0,), (4, 0), ()]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
def test_full_zeros_ones(ctx: mt.Context, dtype: str, shape: tuple[int, ...]) -> None:
    value = 3.75 if dtype in ("f32", "f16", "bf16") else 42
    out = mt.ops.full(shape, value, dtype=dtype, ctx=ctx)
    assert out.dtype == dtype and out.shape == shape
    np.testing.assert_array_equal(out.numpy(), np.full(shape, value, NUMPY[dtype]))
    np.testing.assert_array_equal(
        mt.ops.zeros(shape, dtype=dtype, ctx=ctx).numpy(), np.zeros(shape)
    )
    np.testing.assert_array_equal(mt.ops.ones(shape, dtype=dtype, ctx=ctx).numpy(), np.ones(shape))


def test_full_values(ctx: mt.Context) -> None:
    assert mt.ops.full(3, -7.9, dtype="i8", ctx=ctx).numpy().tolist() == [-7, -7, -7]
    assert mt.ops.full(2, 255, dtype="u8", ctx=ctx).numpy().tolist() == [255, 255]
    assert mt.ops.full(1, 2**32 - 1, dtype="u32", ctx=ctx).item() == 2**32 - 1
    assert mt.ops.full(1, 0.1, dtype="bf16", ctx=ctx).item() == bf16_round(np.float32(0.1))
    assert mt.ops.full(1, 1e6, dtype="f16", ctx=ctx).item() == np.inf
    assert mt.ops.full((2, 2), 1.5, ctx=ctx).dtype == "f32"  # default dtype
    assert np.isnan(mt.ops.full(1, float("nan"), dtype="f16", ctx=ctx).item())


def test_full_errors(ctx: mt.Context) -> None:
    with pytest.raises(mt.ArgumentError, match=r"full: value 256.* does not fit in u8"):
        mt.ops.full(3, 256, dtype="u8", ctx=ctx)
    with pytest.raises(mt.ArgumentError, match="does not fit in i32"):
        mt.ops.full(3, float("inf"), dtype="i32", ctx=ctx)
    with pytest.raises(mt.ShapeError, match="negative dimension"):
        mt.ops.zeros((2, -1), ctx=ctx)
    with pytest.raises(mt.ShapeError, match="at most 8 dimensions"):
        mt.ops.ones((1,) * 9, ctx=ctx)
    with pytest.raises(mt.DTypeError, match="i64"):
        mt.ops.zeros(3, dtype="i64", ctx=ctx)
    with pytest.raises(mt.ArgumentError, match="argument"):
        mt.ops.full((2,), ctx=ctx)  # type: ignore[call-arg]


ARANGES = [
    ((10,), None),
    ((2, 11, 3), None),
    ((5, -4, -2), None),
    ((3, 3), None),
    ((0.0, 1.0, 0.125), None),
    ((-1.5, 2.25, 0.5), "f16"),
    ((0, 300), "f32"),
    ((0, 1027), "u32"),
    ((-100, 100, 7), "i8"),
    ((0, 256), "u8"),
    ((1.0, 2.0, 0.01), "bf16"),
]


@pytest.mark.parametrize(("args", "dtype"), ARANGES)
def test_arange(ctx: mt.Context, args: tuple[float, ...], dtype: str | None) -> None:
    out = mt.ops.arange(*args, dtype=dtype, ctx=ctx)
    integral = all(float(a).is_integer() for a in args)
    expected_dtype = dtype or ("i32" if integral else "f32")
    assert out.dtype == expected_dtype
    expected = np.arange(*args, dtype=np.float64)
    if expected_dtype == "bf16":
        expected = bf16_round(expected.astype(np.float32))
    assert out.shape == expected.shape
    tolerance = {"f16": 1e-3, "bf16": 8e-3}.get(expected_dtype, 1e-6)
    np.testing.assert_allclose(out.numpy().astype(np.float64), expected, rtol=tolerance, atol=1e-6)


def test_arange_errors(ctx: mt.Context) -> None:
    with pytest.raises(mt.ArgumentError, match="step must not be 0"):
        mt.ops.arange(0, 5, 0, ctx=ctx)
    with pytest.raises(mt.ArgumentError, match="needs an integer start and step"):
        mt.ops.arange(0, 5, 0.5, dtype="i32", ctx=ctx)
    with pytest.raises(mt.ArgumentError, match="does not fit in i8"):
        mt.ops.arange(0, 200, dtype="i8", ctx=ctx)
    with pytest.raises(mt.ArgumentError, match="does not fit in u32"):
        mt.ops.arange(-2, 3, dtype="u32", ctx=ctx)
    with pytest.raises(mt.ArgumentError, match="stop must be finite"):
        mt.ops.arange(0, float("inf"), ctx=ctx)
    with pytest.raises(mt.ShapeError, match="at most 2"):
        mt.ops.arange(0, 1e10, ctx=ctx)


def _philox(blocks: np.ndarray, seed: int) -> np.ndarray:
    """The 4 words of each block: counter (block, 0, 0, 0), key (seed low, seed high)."""
    counters = np.zeros((len(blocks), 4), np.uint64)
    counters[:, 0] = blocks
    return philox4x32_10(counters, seed)


def _bits(n: int, seed: int) -> np.ndarray:
    return _philox(np.arange((n + 3) // 4), seed).reshape(-1)[:n]


def test_random_bits_match_philox(ctx: mt.Context) -> None:
    # Known-answer vector from Random123's kat_vectors: counter 0, key 0.
    first = mt.ops.random_bits(4, seed=0, ctx=ctx).numpy()
    assert first.tolist() == [0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8]
    for n, seed in ((1, 3), (1027, 0), (4096, 2**40 + 12345)):
        out = mt.ops.random_bits((n,), seed=seed, ctx=ctx)
        assert out.dtype == "u32"
        np.testing.assert_array_equal(out.numpy(), _bits(n, seed))


def test_random_is_deterministic_and_independent_of_size(ctx: mt.Context) -> None:
    big = mt.ops.random_uniform((1000, 7), seed=11, ctx=ctx).numpy()
    again = mt.ops.random_uniform((1000, 7), seed=11, ctx=mt.Context(device=ctx.device)).numpy()
    np.testing.assert_array_equal(big, again)
    small = mt.ops.random_uniform(5, seed=11, ctx=ctx).numpy()  # a smaller grid: same prefix
    np.testing.assert_array_equal(small, big.reshape(-1)[:5])
    other = mt.ops.random_uniform((1000, 7), seed=12, ctx=ctx).numpy()
    assert np.mean(other == big) < 0.01
    n1 = mt.ops.random_normal(9, seed=5, ctx=ctx).numpy()
    np.testing.assert_array_equal(n1, mt.ops.random_normal(1001, seed=5, ctx=ctx).numpy()[:9])


def _uniform_ref(n: int, seed: int, low: float, high: float) -> np.ndarray:
    u = (_bits(n, seed) >> 8).astype(np.float64) * 2.0**-24
    return (np.float64(np.float32(high - low)) * u + np.float32(low)).astype(np.float32)


@pytest.mark.parametrize("dtype", ["f32", "f16", "bf16"])
def test_random_uniform_values(ctx: mt.Context, dtype: str) -> None:
    n = 1031
    out = mt.ops.random_uniform(n, seed=7, dtype=dtype, ctx=ctx).numpy()
    ref = _uniform_ref(n, 7, 0.0, 1.0)
    ref = bf16_round(ref) if dtype == "bf16" else ref.astype(NUMPY[dtype])
    np.testing.assert_array_equal(out, ref)
    shifted = mt.ops.random_uniform(n, seed=7, low=-2.0, high=3.0, ctx=ctx).numpy()
    np.testing.assert_allclose(shifted, _uniform_ref(n, 7, -2.0, 3.0), rtol=0, atol=5e-7)
    assert shifted.min() >= -2.0 and shifted.max() < 3.0


def _ks_statistic(samples: np.ndarray, cdf: np.ndarray) -> float:
    """Kolmogorov-Smirnov distance of sorted samples' empirical CDF to the given CDF values."""
    n = len(samples)
    i = np.arange(1, n + 1)
    return float(max(np.max(i / n - cdf), np.max(cdf - (i - 1) / n)))


def test_random_uniform_statistics(ctx: mt.Context) -> None:
    n = 200_000
    x = np.sort(mt.ops.random_uniform(n, seed=2024, ctx=ctx).numpy().astype(np.float64))
    assert abs(x.mean() - 0.5) < 4 * math.sqrt(1 / 12 / n)
    assert abs(x.var() - 1 / 12) < 1e-3
    assert _ks_statistic(x, x) < 1.63 / math.sqrt(n)  # the 1% critical value


@pytest.mark.parametrize("dtype", ["f32", "f16", "bf16"])
def test_random_normal(ctx: mt.Context, dtype: str) -> None:
    n = 100_001
    x = mt.ops.random_normal(n, seed=99, loc=1.5, scale=2.0, dtype=dtype, ctx=ctx).numpy()
    assert x.shape == (n,) and np.all(np.isfinite(x))
    bits = _bits(n + 1, 99).astype(np.float64)
    u1 = (np.floor(bits[0::2] / 256) + 1) * 2.0**-24
    theta = 2 * np.pi * np.floor(bits[1::2] / 256) * 2.0**-24
    r = np.sqrt(-2 * np.log(u1))
    ref = 1.5 + 2.0 * np.stack([r * np.cos(theta), r * np.sin(theta)], axis=1).reshape(-1)[:n]
    tolerance = {"f32": 1e-5, "f16": 2e-3, "bf16": 1e-2}[dtype]
    np.testing.assert_allclose(x, ref, rtol=tolerance, atol=tolerance)
    z = np.sort((x.astype(np.float64) - 1.5) / 2.0)
    assert abs(z.mean()) < 4 / math.sqrt(n) and abs(z.std() - 1) < 0.01
    cdf = 0.5 * (1 + np.vectorize(math.erf)(z / math.sqrt(2)))
    if dtype == "f32":  # f16/bf16 rounding alone moves the CDF by more than the critical value
        assert _ks_statistic(z, cdf) < 1.63 / math.sqrt(n)


def test_random_errors(ctx: mt.Context) -> None:
    with pytest.raises(mt.ArgumentError, match="seed must be non-negative"):
        mt.ops.random_uniform(3, seed=-1, ctx=ctx)
    with pytest.raises(mt.ArgumentError, match="must not exceed high"):
        mt.ops.random_uniform(3, low=2.0, high=1.0, ctx=ctx)
    with pytest.raises(mt.DTypeError, match="f32, f16 or bf16, got i32"):
        mt.ops.random_normal(3, dtype="i32", ctx=ctx)
    with pytest.raises(mt.ArgumentError, match="scale must be >= 0"):
        mt.ops.random_normal(3, scale=-1.0, ctx=ctx)
    with pytest.raises(mt.ShapeError, match="negative dimension"):
        mt.ops.random_bits((-1,), ctx=ctx)
