"""Comparisons (metal/compare, u8 results) and where (metal/where) against numpy."""

from __future__ import annotations

import metallic as mt
import numpy as np
import pytest
from _refs import bf16

COMPARE = {
    "equal": np.equal,
    "not_equal": np.not_equal,
    "less": np.less,
    "less_equal": np.less_equal,
    "greater": np.greater,
    "greater_equal": np.greater_equal,
}
SHAPES = [((257,), (257,)), ((3, 1), (1, 5)), ((2, 3, 17), (17,)), ((0, 4), (4,)), ((), (6,))]


def _values(rng: np.random.Generator, shape: tuple[int, ...], dtype: type) -> np.ndarray:
    # Few distinct values, so equality is exercised as much as order.
    return rng.integers(0, 4, shape).astype(dtype)


@pytest.mark.parametrize("name", COMPARE)
@pytest.mark.parametrize("dtype", [np.float32, np.float16, np.int32, np.uint32, np.uint8])
@pytest.mark.parametrize(("a_shape", "b_shape"), SHAPES)
def test_compare(
    ctx: mt.Context, name: str, dtype: type, a_shape: tuple[int, ...], b_shape: tuple[int, ...]
) -> None:
    rng = np.random.default_rng(13)
    a, b = _values(rng, a_shape, dtype), _values(rng, b_shape, dtype)
    out = getattr(mt.ops, name)(ctx.tensor(a), ctx.tensor(b))
    assert out.dtype == "u8"
    np.testing.assert_array_equal(out.numpy(), COMPARE[name](a, b).astype(np.uint8))
    np.testing.assert_array_equal(
        getattr(mt.ops, name)(ctx.tensor(a), 2).numpy(), COMPARE[name](a, dtype(2))
    )


@pytest.mark.parametrize("name", COMPARE)
def test_compare_bf16_and_nan(ctx: mt.Context, name: str) -> None:
    a = bf16(np.array([0.5, np.nan, 1.0, -2.0, 3.0], np.float32))
    b = bf16(np.array([0.5, 1.0, np.nan, 2.0, -3.0], np.float32))
    out = getattr(mt.ops, name)(ctx.tensor(a, dtype="bf16"), ctx.tensor(b, dtype="bf16"))
    np.testing.assert_array_equal(out.numpy(), COMPARE[name](a, b).astype(np.uint8))


def test_comparison_operators(ctx: mt.Context) -> None:
    x = np.array([[1.0, 2.0, 3.0], [3.0, 2.0, 1.0]], np.float32)
    y = np.array([2.0, 2.0, 2.0], np.float32)
    a, b = ctx.tensor(x), ctx.tensor(y)
    np.testing.assert_array_equal((a > b).numpy(), x > y)
    np.testing.assert_array_equal((a >= b).numpy(), x >= y)
    np.testing.assert_array_equal((a < 2).numpy(), x < 2)
    np.testing.assert_array_equal((a <= 2).numpy(), x <= 2)
    np.testing.assert_array_equal((a == b).numpy(), x == y)
    np.testing.assert_array_equal((a != 2).numpy(), x != 2)
    np.testing.assert_array_equal((2 < a).numpy(), 2 < x)  # reflected: a > 2
    assert len({a, b}) == 2  # tensors stay hashable (by identity)


@pytest.mark.parametrize("dtype", [np.float32, np.float16, np.int32, np.uint8])
@pytest.mark.parametrize(
    ("c_shape", "x_shape", "y_shape"),
    [
        ((257,), (257,), (257,)),
        ((3, 1), (1, 4), (4,)),
        ((2, 3, 5), (5,), (3, 1)),
        ((0, 2), (2,), (2,)),
    ],
)
def test_where(
    ctx: mt.Context,
    dtype: type,
    c_shape: tuple[int, ...],
    x_shape: tuple[int, ...],
    y_shape: tuple[int, ...],
) -> None:
    rng = np.random.default_rng(17)
    c = rng.integers(0, 3, c_shape).astype(np.uint8)  # 2 is also true
    x = rng.integers(0, 100, x_shape).astype(dtype)
    y = rng.integers(100, 200, y_shape).astype(dtype)
    out = mt.ops.where(ctx.tensor(c), ctx.tensor(x), ctx.tensor(y))
    np.testing.assert_array_equal(out.numpy(), np.where(c != 0, x, y))
    np.testing.assert_array_equal(
        mt.ops.where(ctx.tensor(c), ctx.tensor(x), 7).numpy(), np.where(c != 0, x, dtype(7))
    )
    np.testing.assert_array_equal(
        mt.ops.where(ctx.tensor(c), 7, ctx.tensor(y)).numpy(), np.where(c != 0, dtype(7), y)
    )


def test_where_bf16_with_a_comparison(ctx: mt.Context) -> None:
    x = bf16(np.linspace(-2, 2, 33, dtype=np.float32))
    t = ctx.tensor(x, dtype="bf16")
    out = mt.ops.where(t > 0, t, 0.0)
    assert out.dtype == "bf16"
    np.testing.assert_array_equal(out.numpy(), np.where(x > 0, x, 0))


class TestBadInput:
    def test_compare_dtype_mismatch(self, ctx: mt.Context) -> None:
        with pytest.raises(mt.DTypeError, match="dtypes differ"):
            mt.ops.less(ctx.tensor(np.ones(3, np.float32)), ctx.tensor(np.ones(3, np.int32)))

    def test_compare_shapes(self, ctx: mt.Context) -> None:
        with pytest.raises(mt.ShapeError, match="do not broadcast"):
            mt.ops.equal(ctx.tensor(np.ones(3, np.float32)), ctx.tensor(np.ones(4, np.float32)))

    def test_where_condition_dtype(self, ctx: mt.Context) -> None:
        x = ctx.tensor(np.ones(3, np.float32))
        with pytest.raises(mt.DTypeError, match="condition must be u8"):
            mt.ops.where(x, x, x)

    def test_where_value_dtypes(self, ctx: mt.Context) -> None:
        c = ctx.tensor(np.ones(3, np.uint8))
        with pytest.raises(mt.DTypeError, match="dtypes of x and y differ"):
            mt.ops.where(c, ctx.tensor(np.ones(3, np.float32)), ctx.tensor(np.ones(3, np.float16)))
        with pytest.raises(mt.DTypeError, match="not a i32 value"):
            mt.ops.where(c, ctx.tensor(np.ones(3, np.int32)), 0.5)

    def test_where_scalars_and_shapes(self, ctx: mt.Context) -> None:
        c = ctx.tensor(np.ones(3, np.uint8))
        with pytest.raises(mt.ArgumentError, match="both scalars"):
            mt.ops.where(c, 1.0, 0.0)
        with pytest.raises(mt.ShapeError, match=r"condition \[3\], x \[4\]"):
            mt.ops.where(c, ctx.tensor(np.ones(4, np.float32)), 0.0)
