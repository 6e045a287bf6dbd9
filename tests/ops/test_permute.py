"""permute / transpose (materialised by metal/copy), Tensor.transpose/swapaxes/T views, and
reshape of strided views, against numpy."""

from __future__ import annotations

import metallic as mt
import numpy as np
import pytest
from layout_refs import sample

CASES = [
    ((5, 3), (1, 0)),
    ((33, 257), (1, 0)),
    ((2, 3, 4), (2, 0, 1)),
    ((7, 1, 9), (0, 2, 1)),
    ((3, 5, 2, 7), (3, 1, 0, 2)),
    ((2, 3, 2, 1, 3, 2, 1, 5), (7, 0, 6, 1, 5, 2, 4, 3)),
    ((0, 4), (1, 0)),
    ((4,), (0,)),
    ((3, 4, 5), (-1, 0, -2)),
    ((3, 33, 65), (0, 2, 1)),
    ((2, 6, 5, 9), (0, 3, 1, 2)),
]


@pytest.mark.parametrize("dtype", ["f32", "f16", "bf16", "i32", "u8"])
@pytest.mark.parametrize(("shape", "axes"), CASES)
def test_permute(
    ctx: mt.Context, dtype: str, shape: tuple[int, ...], axes: tuple[int, ...]
) -> None:
    x = sample(np.random.default_rng(0), shape, dtype)
    t = ctx.tensor(x, dtype=dtype)
    expected = np.transpose(x, axes)
    for out in (mt.ops.permute(t, axes), mt.ops.transpose(t, axes)):
        assert out.is_contiguous() and out.dtype == dtype
        np.testing.assert_array_equal(out.numpy(), expected)
    view = t.transpose(*axes)
    assert view.shape == expected.shape
    np.testing.assert_array_equal(mt.ops.copy(view).numpy(), expected)
    np.testing.assert_array_equal(mt.ops.copy(t.transpose(list(axes))).numpy(), expected)


def test_transpose_defaults_and_views(ctx: mt.Context) -> None:
    x = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    t = ctx.tensor(x)
    np.testing.assert_array_equal(mt.ops.transpose(t).numpy(), x.T)
    assert t.transpose().shape == (4, 3, 2) and t.transpose().strides == (1, 4, 12)
    assert t.T.strides == (1, 4, 12)  # .T reverses every axis, as numpy
    assert t.swapaxes(0, 2).shape == (4, 3, 2) and t.swapaxes(-1, 1).shape == (2, 4, 3)
    assert ctx.tensor(np.ones(5, np.float32)).T.shape == (5,)
    np.testing.assert_array_equal(mt.ops.copy(t.swapaxes(0, 1)).numpy(), x.swapaxes(0, 1))


def test_reshape_of_a_strided_view_copies(ctx: mt.Context) -> None:
    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    t = ctx.tensor(x)
    np.testing.assert_array_equal(t.T.reshape(12).numpy(), x.T.reshape(12))
    np.testing.assert_array_equal(t.T.reshape(2, -1).numpy(), x.T.reshape(2, -1))
    flat = t.reshape(12)  # contiguous: a view, no copy
    mt.ops.copyto(t, 1.0)
    np.testing.assert_array_equal(flat.numpy(), np.ones(12, np.float32))
    with pytest.raises(mt.ShapeError, match="cannot reshape"):
        t.T.reshape(5)


def test_permute_errors(ctx: mt.Context) -> None:
    t = ctx.tensor(np.zeros((2, 3, 4), np.float32))
    for axes in ([0, 1], [0, 1, 1], [0, 1, 3], [0, 1, 2, 3], [-4, 0, 1]):
        with pytest.raises(mt.ShapeError, match="not a permutation"):
            mt.ops.permute(t, axes)
        with pytest.raises(mt.ShapeError, match="not a permutation"):
            t.transpose(*axes)
    with pytest.raises(mt.ShapeError, match="permute: axes"):
        mt.ops.permute(t, [2, 2, 0])
    with pytest.raises(mt.ShapeError, match="out of range"):
        t.swapaxes(0, 3)
    with pytest.raises(mt.ArgumentError, match="argument"):
        mt.ops.permute(t)  # type: ignore[call-arg]
    with pytest.raises(mt.DTypeError, match="i64"):
        mt.ops.transpose(ctx.tensor(np.zeros((2, 2), np.int64)))
