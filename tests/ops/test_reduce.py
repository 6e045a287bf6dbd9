"""Reductions (metal/reduce) against numpy: axes, keepdims, the one- and two-dispatch forms."""

from __future__ import annotations

import metallic as mt
import numpy as np
import pytest
from _refs import bf16

VALUE_OPS = {"sum": np.sum, "mean": np.mean, "max": np.max, "min": np.min}
ARG_OPS = {"argmax": np.argmax, "argmin": np.argmin}
# (shape, axis): the rows form (contiguous, >= 128 elements), strided (few elements or not the
# innermost axes), two dispatches (few outputs of >= 65536 elements), non-adjacent axes.
CASES: list[tuple[tuple[int, ...], int | tuple[int, ...] | None]] = [
    ((1,), None),
    ((7,), None),
    ((1000,), 0),
    ((33, 129), 1),
    ((33, 129), 0),
    ((33, 129), -1),
    ((4, 5, 300), (1, 2)),
    ((4, 5, 6), (0, 2)),
    ((2, 3, 4, 5), (0, 1, 3)),
    ((3, 70001), 1),
    ((2049, 130), 1),  # rows: 2 outputs per SIMD group, the last group with one
    ((200003,), None),
    ((3, 1, 5), 1),
    ((), None),
]


def _tol(dtype: str, n: int) -> dict[str, float]:
    if dtype == "f32":
        return {"rtol": 1e-5, "atol": 1e-5 * np.sqrt(max(n, 1))}
    # The result is rounded to f16/bf16 once (accumulation is in f32).
    return {"rtol": 1e-2 if dtype == "bf16" else 2e-3, "atol": 1e-3 * np.sqrt(max(n, 1))}


def _data(shape: tuple[int, ...], dtype: str) -> np.ndarray:
    rng = np.random.default_rng(int(np.prod(shape)) % 1000 + len(shape))
    x = rng.standard_normal(shape).astype(np.float32)
    if dtype == "f16":
        return x.astype(np.float16)
    return bf16(x) if dtype == "bf16" else x


@pytest.mark.parametrize("name", VALUE_OPS)
@pytest.mark.parametrize("dtype", ["f32", "f16", "bf16"])
@pytest.mark.parametrize(("shape", "axis"), CASES)
@pytest.mark.parametrize("keepdims", [False, True])
def test_values(
    ctx: mt.Context,
    name: str,
    dtype: str,
    shape: tuple[int, ...],
    axis: int | tuple[int, ...] | None,
    keepdims: bool,
) -> None:
    x = _data(shape, dtype)
    out = getattr(mt.ops, name)(ctx.tensor(x, dtype=dtype), axis=axis, keepdims=keepdims)
    expected = VALUE_OPS[name](x.astype(np.float64), axis=axis, keepdims=keepdims)
    assert out.dtype == dtype and out.shape == np.shape(expected)
    n = x.size // max(np.size(expected), 1)
    if name in ("max", "min"):  # exact: an element of x
        np.testing.assert_array_equal(out.numpy(), expected.astype(np.float32))
    else:
        np.testing.assert_allclose(out.numpy(), expected, **_tol(dtype, n))


@pytest.mark.parametrize("name", ARG_OPS)
@pytest.mark.parametrize("dtype", ["f32", "f16", "bf16", "i32", "u32"])
@pytest.mark.parametrize(
    ("shape", "axis"),
    [
        ((7,), None),
        ((33, 129), 1),
        ((33, 129), 0),
        ((4, 5, 6), 1),
        ((3, 70001), 1),
        ((200003,), None),
        ((2049, 130), 1),
        ((5, 6), None),
    ],
)
@pytest.mark.parametrize("keepdims", [False, True])
def test_arg(
    ctx: mt.Context, name: str, dtype: str, shape: tuple[int, ...], axis: int | None, keepdims: bool
) -> None:
    rng = np.random.default_rng(19)
    # Few distinct values: ties everywhere, and numpy returns the first.
    x = rng.integers(0, 50, shape).astype(
        {"i32": np.int32, "u32": np.uint32}.get(dtype, np.float32)
    )
    out = getattr(mt.ops, name)(ctx.tensor(x, dtype=dtype), axis=axis, keepdims=keepdims)
    expected = ARG_OPS[name](x, axis=axis, keepdims=keepdims)
    assert out.dtype == "i32" and out.shape == np.shape(expected)
    np.testing.assert_array_equal(out.numpy(), expected)


@pytest.mark.parametrize("dtype", [np.int32, np.uint32])
def test_integer_max_min(ctx: mt.Context, dtype: type) -> None:
    rng = np.random.default_rng(23)
    x = rng.integers(0, 2**31 - 1, (9, 300)).astype(dtype)
    for name in ("max", "min"):
        np.testing.assert_array_equal(
            getattr(mt.ops, name)(ctx.tensor(x), axis=1).numpy(), VALUE_OPS[name](x, axis=1)
        )


@pytest.mark.parametrize("shape", [(5, 300), (3, 70001), (40,)])
def test_nan(ctx: mt.Context, shape: tuple[int, ...]) -> None:
    x = np.arange(np.prod(shape), dtype=np.float32).reshape(shape)
    x[..., 17] = np.nan
    x[..., 3] = np.nan
    t = ctx.tensor(x)
    for name in ("max", "min"):
        np.testing.assert_array_equal(
            getattr(mt.ops, name)(t, axis=-1).numpy(), VALUE_OPS[name](x, axis=-1)
        )
    for name in ("argmax", "argmin"):  # the first NaN
        np.testing.assert_array_equal(
            getattr(mt.ops, name)(t, axis=-1).numpy(), ARG_OPS[name](x, axis=-1)
        )


def test_empty(ctx: mt.Context) -> None:
    x = np.zeros((0, 4), np.float32)
    t = ctx.tensor(x)
    np.testing.assert_array_equal(mt.ops.sum(t, axis=0).numpy(), np.zeros(4, np.float32))
    assert mt.ops.sum(t, axis=1).shape == (0,)
    assert mt.ops.max(t, axis=1).shape == (0,)
    assert np.isnan(mt.ops.mean(t).item())


def test_views(ctx: mt.Context) -> None:
    x = np.arange(6 * 200, dtype=np.float32).reshape(6, 200) / 7
    t = ctx.tensor(x)
    np.testing.assert_allclose(mt.ops.sum(t.T, axis=0).numpy(), x.T.sum(axis=0), rtol=1e-5)
    np.testing.assert_allclose(
        mt.ops.sum(t.slice(2, 5), axis=1).numpy(), x[2:5].sum(axis=1), rtol=1e-5
    )
    np.testing.assert_array_equal(mt.ops.argmax(t.T, axis=1).numpy(), x.T.argmax(axis=1))


def test_methods(ctx: mt.Context) -> None:
    x = np.random.default_rng(29).standard_normal((4, 130)).astype(np.float32)
    t = ctx.tensor(x)
    np.testing.assert_allclose(t.sum(axis=1).numpy(), x.sum(axis=1), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(t.mean().item(), x.mean(), rtol=1e-5, atol=1e-6)
    assert t.max().item() == x.max() and t.min(axis=0).shape == (130,)
    assert t.argmax().item() == x.argmax() and t.argmin(axis=1, keepdims=True).shape == (4, 1)


def test_full_reduction_is_at_most_two_dispatches(ctx: mt.Context) -> None:
    t = ctx.tensor(np.ones(10**7, np.float32))
    ctx.synchronize()
    with ctx.profile() as p:
        s = mt.ops.sum(t)
        assert s.item() == 10**7  # exact: every partial sum is an integer below 2^24
    assert [r.label for r in p.records] == ["reduce_sum", "reduce_sum"]


class TestBadInput:
    def test_axis_out_of_range(self, ctx: mt.Context) -> None:
        t = ctx.tensor(np.ones((2, 3), np.float32))
        with pytest.raises(mt.ArgumentError, match=r"axis 2 is out of range for a tensor of 2"):
            mt.ops.sum(t, axis=2)
        with pytest.raises(mt.ArgumentError, match="axis -3 is out of range"):
            mt.ops.argmax(t, axis=-3)

    def test_repeated_axis(self, ctx: mt.Context) -> None:
        t = ctx.tensor(np.ones((2, 3), np.float32))
        with pytest.raises(mt.ArgumentError, match="axis -1 is repeated"):
            mt.ops.mean(t, axis=(1, -1))

    def test_zero_size_without_identity(self, ctx: mt.Context) -> None:
        t = ctx.tensor(np.ones((0, 3), np.float32))
        for name in ("max", "min", "argmax", "argmin"):
            with pytest.raises(mt.ShapeError, match="zero-size axis"):
                getattr(mt.ops, name)(t, axis=0)

    def test_dtypes(self, ctx: mt.Context) -> None:
        ints = ctx.tensor(np.ones(3, np.int32))
        for name in ("sum", "mean"):
            with pytest.raises(mt.DTypeError, match="f32, f16, bf16"):
                getattr(mt.ops, name)(ints)
        with pytest.raises(mt.DTypeError, match="u8"):
            mt.ops.max(ctx.tensor(np.ones(3, np.uint8)))

    def test_argument_types(self, ctx: mt.Context) -> None:
        t = ctx.tensor(np.ones((2, 3), np.float32))
        with pytest.raises(mt.ArgumentError, match="argument 'axis'"):
            mt.ops.sum(t, axis="rows")
        with pytest.raises(mt.ArgumentError, match="argument 'axis'"):
            mt.ops.argmax(t, axis=(0, 1))
