"""copy / contiguous / copyto and slice assignment (metal/copy, metal/creation's fill) against
numpy, over views of every kind (transposed, sliced, permuted, rank 8), every dtype."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import metallic as mt
import numpy as np
import pytest
from layout_refs import DTYPES, sample

# (shape, view): the same view of a numpy array and of a tensor, via methods both have.
View = Callable[[Any], Any]
VIEWS: list[tuple[tuple[int, ...], View]] = [
    ((7,), lambda t: t),
    ((1029,), lambda t: t),
    ((33, 65), lambda t: t.T),
    ((5, 3), lambda t: t.T),
    ((4, 6, 5), lambda t: t.transpose(2, 0, 1)),
    ((4, 6, 5), lambda t: t.swapaxes(0, 1)),
    ((9, 7), lambda t: t[2:7]),
    ((9, 7), lambda t: t.T[1:6].T),  # columns 1..5: inner stride 1, outer stride 7
    ((3, 4, 5), lambda t: t[1]),
    ((2, 3, 1, 5, 2, 3, 2, 3), lambda t: t.transpose(7, 6, 5, 4, 3, 2, 1, 0)),
    ((0, 5), lambda t: t.T),
    ((3, 0, 2), lambda t: t.transpose(1, 2, 0)),
    ((), lambda t: t),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("shape", "view"), VIEWS)
def test_copy_of_views(ctx: mt.Context, dtype: str, shape: tuple[int, ...], view: View) -> None:
    rng = np.random.default_rng(1)
    x = sample(rng, shape, dtype)
    t = ctx.tensor(x, dtype=dtype)
    out = mt.ops.copy(view(_Sliceable(t)).tensor)
    expected = np.asarray(view(x))
    assert out.is_contiguous()
    assert out.dtype == dtype and out.shape == expected.shape
    np.testing.assert_array_equal(out.numpy(), expected)


class _Sliceable:
    """Wraps a tensor so the views above, written for numpy, apply to it unchanged (until
    Tensor.__getitem__ takes slices: t[a:b] maps to t.slice(a, b))."""

    def __init__(self, tensor: mt.Tensor) -> None:
        self.tensor = tensor

    def __getitem__(self, index: int | slice) -> _Sliceable:
        if isinstance(index, slice):
            start, stop, _ = index.indices(len(self.tensor))
            return _Sliceable(self.tensor.slice(start, stop))
        return _Sliceable(self.tensor[index])

    @property
    def T(self) -> _Sliceable:  # noqa: N802 (numpy's name)
        return _Sliceable(self.tensor.T)

    def transpose(self, *axes: int) -> _Sliceable:
        return _Sliceable(self.tensor.transpose(*axes))

    def swapaxes(self, a: int, b: int) -> _Sliceable:
        return _Sliceable(self.tensor.swapaxes(a, b))


def test_contiguous(ctx: mt.Context) -> None:
    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    t = ctx.tensor(x)
    same = t.contiguous()
    mt.ops.copyto(t, 5.0)  # no copy was made: `same` sees the write
    np.testing.assert_array_equal(same.numpy(), np.full((3, 4), 5, np.float32))
    t = ctx.tensor(x)
    c = t.T.contiguous()
    assert c.is_contiguous() and c.strides == (3, 1)
    mt.ops.copyto(t, 0.0)  # a copy was made: `c` keeps the old values
    np.testing.assert_array_equal(c.numpy(), x.T)
    np.testing.assert_array_equal(mt.ops.contiguous(ctx.tensor(x).T).numpy(), x.T)


@pytest.mark.parametrize("dtype", ["f32", "f16", "bf16", "i8"])
def test_copyto_views_broadcast_and_cast(ctx: mt.Context, dtype: str) -> None:
    rng = np.random.default_rng(2)
    x = sample(rng, (6, 9), dtype)
    t = ctx.tensor(x, dtype=dtype)
    src = sample(rng, (3, 6), dtype)
    mt.ops.copyto(t.T.slice(2, 5).T, ctx.tensor(src, dtype=dtype).T)  # columns 2..4 = src.T
    x[:, 2:5] = src.T
    row = sample(rng, (9,), "i32")
    mt.ops.copyto(t.slice(4, 6), ctx.tensor(row))  # broadcast over rows, converted from i32
    x[4:6] = row.astype(x.dtype)
    np.testing.assert_array_equal(t.numpy(), x)


def test_copyto_scalar_and_overlap(ctx: mt.Context) -> None:
    x = np.arange(20, dtype=np.int32).reshape(4, 5)
    t = ctx.tensor(x)
    mt.ops.copyto(t.T.slice(1, 2).T, -3.0)  # a strided column
    x[:, 1] = -3
    mt.ops.copyto(t.slice(1, 4), t.slice(0, 3))  # overlapping: reads before it writes, as numpy
    x[1:4] = x[0:3].copy()
    np.testing.assert_array_equal(t.numpy(), x)
    assert mt.ops.copyto(t, 1.9).numpy()[0, 0] == 1  # truncated toward zero, returns dst


def test_copyto_overlap_through_negative_strides(ctx: mt.Context) -> None:
    # A reversed view of the same elements overlaps them although it starts at the other end.
    x = np.arange(20, dtype=np.float32).reshape(4, 5)
    t = ctx.tensor(x)
    mt.ops.copyto(t, t[::-1, ::-1])
    np.testing.assert_array_equal(t.numpy(), x[::-1, ::-1])
    mt.ops.copyto(t[1:, ::-1], t[:-1])
    want = x[::-1, ::-1].copy()
    want[1:, ::-1] = want[:-1].copy()
    np.testing.assert_array_equal(t.numpy(), want)


def test_setitem(ctx: mt.Context) -> None:
    x = np.zeros((6, 4), np.float32)
    t = ctx.tensor(x)
    b = np.arange(8, dtype=np.float32).reshape(2, 4)
    t[1:3] = ctx.tensor(b)
    x[1:3] = b
    t[4] = 2.5
    x[4] = 2.5
    t[-1:] = ctx.tensor(np.array([9, 8, 7, 6], np.float32))  # broadcast over the slice
    x[-1:] = [9, 8, 7, 6]
    t[5:2] = 1.0  # empty slice: nothing written
    np.testing.assert_array_equal(t.numpy(), x)


def test_copy_errors(ctx: mt.Context) -> None:
    t = ctx.tensor(np.zeros((3, 4), np.float32))
    with pytest.raises(mt.ShapeError, match=r"cannot broadcast src of shape \[3\]"):
        mt.ops.copyto(t, ctx.tensor(np.zeros(3, np.float32)))
    with pytest.raises(mt.ShapeError, match="cannot broadcast"):
        t[1:3] = ctx.tensor(np.zeros((3, 4), np.float32))
    with pytest.raises(mt.DTypeError, match="i64, which is not supported"):
        mt.ops.copy(ctx.tensor(np.zeros(3, np.int64)))
    with pytest.raises(mt.DTypeError, match="i64"):
        mt.ops.copyto(t, ctx.tensor(np.zeros(4, np.int64)))
    with pytest.raises(mt.ArgumentError, match="does not fit in u8"):
        mt.ops.copyto(ctx.tensor(np.zeros(3, np.uint8)), 256.0)
    with pytest.raises(mt.ArgumentError, match="does not fit in i32"):
        mt.ops.copyto(ctx.tensor(np.zeros(3, np.int32)), float("nan"))
    other = mt.Context(device=ctx.device)
    with pytest.raises(mt.ArgumentError, match="different contexts"):
        mt.ops.copyto(t, other.tensor(np.zeros(4, np.float32)))
    with pytest.raises(mt.ArgumentError, match="argument"):
        mt.ops.copyto(t, "1")


def test_contiguous_only_ops_name_contiguous(ctx: mt.Context) -> None:
    a = ctx.tensor(np.ones((4, 4), np.float32))
    with pytest.raises(mt.ShapeError, match=r"\.contiguous\(\)"):
        mt.ops.mps_matmul(a.T, a)
    np.testing.assert_array_equal(
        mt.ops.mps_matmul(a.T.contiguous(), a).numpy(), np.full((4, 4), 4)
    )
