"""concatenate and split (metal/copy) against numpy: axes, odd and empty parts, strided inputs,
every bad input."""

from __future__ import annotations

import metallic as mt
import numpy as np
import pytest
from layout_refs import sample

CONCAT_CASES = [
    ([(3, 5), (4, 5)], 0),
    ([(3, 5), (3, 1), (3, 7)], 1),
    ([(2, 3, 4), (2, 3, 9)], -1),
    ([(2, 0, 4), (2, 5, 4), (2, 0, 4)], 1),
    ([(1029,), (3,)], 0),
    ([(0, 3), (0, 3)], 0),
]


@pytest.mark.parametrize("dtype", ["f32", "f16", "bf16", "i32", "i8"])
@pytest.mark.parametrize(("shapes", "axis"), CONCAT_CASES)
def test_concatenate(ctx: mt.Context, dtype: str, shapes: list[tuple[int, ...]], axis: int) -> None:
    rng = np.random.default_rng(6)
    xs = [sample(rng, s, dtype) for s in shapes]
    out = mt.ops.concatenate([ctx.tensor(x, dtype=dtype) for x in xs], axis=axis)
    assert out.dtype == dtype and out.is_contiguous()
    np.testing.assert_array_equal(out.numpy(), np.concatenate(xs, axis=axis))


def test_concatenate_strided_inputs(ctx: mt.Context) -> None:
    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    t = ctx.tensor(x)
    out = mt.ops.concatenate([t.T, t.T.contiguous(), t.T.slice(1, 2)], axis=0)
    np.testing.assert_array_equal(out.numpy(), np.concatenate([x.T, x.T, x.T[1:2]]))


def test_concatenate_errors(ctx: mt.Context) -> None:
    a = ctx.tensor(np.zeros((2, 3), np.float32))
    with pytest.raises(mt.ArgumentError, match="needs a Tensor argument"):
        mt.ops.concatenate([])
    with pytest.raises(mt.ArgumentError, match="at least one tensor"):
        ctx.call(mt.ops.ConcatenateOp, [])
    with pytest.raises(mt.DTypeError, match=r"tensors\[1\] has dtype f16.*astype"):
        mt.ops.concatenate([a, ctx.tensor(np.zeros((2, 3), np.float16))])
    with pytest.raises(mt.ShapeError, match=r"tensors\[1\] has shape \[3, 3\]"):
        mt.ops.concatenate([a, ctx.tensor(np.zeros((3, 3), np.float32))], axis=1)
    with pytest.raises(mt.ShapeError, match=r"tensors\[1\] has shape \[3\]"):
        mt.ops.concatenate([a, ctx.tensor(np.zeros(3, np.float32))])
    with pytest.raises(mt.ShapeError, match="axis 2 is out of range"):
        mt.ops.concatenate([a, a], axis=2)
    with pytest.raises(mt.ShapeError, match="0-dimensional"):
        mt.ops.concatenate([ctx.tensor(np.float32(1)), ctx.tensor(np.float32(2))])
    with pytest.raises(mt.DTypeError, match="i64"):
        mt.ops.concatenate([ctx.tensor(np.zeros(2, np.int64))])
    with pytest.raises(mt.ArgumentError, match="another context"):
        mt.ops.concatenate([a, mt.Context(device=ctx.device).tensor(np.zeros((2, 3), np.float32))])


@pytest.mark.parametrize("dtype", ["f32", "f16", "bf16", "u32", "u8"])
def test_split_sections(ctx: mt.Context, dtype: str) -> None:
    x = sample(np.random.default_rng(7), (6, 15), dtype)
    t = ctx.tensor(x, dtype=dtype)
    for sections, axis in ((3, 0), (5, 1), (1, -1), (6, 0)):
        parts = mt.ops.split(t, sections, axis=axis)
        assert isinstance(parts, tuple) and len(parts) == sections
        for got, want in zip(parts, np.split(x, sections, axis=axis), strict=True):
            assert got.is_contiguous() and got.dtype == dtype
            np.testing.assert_array_equal(got.numpy(), want)


def test_split_indices(ctx: mt.Context) -> None:
    x = np.arange(70, dtype=np.int32).reshape(7, 10)
    t = ctx.tensor(x)
    for indices, axis in (([2, 5], 0), ([3], 1), ([0, 0, 10], 1), ([-3, 20], 0), ([5, 2], 1)):
        parts = mt.ops.split(t, indices=indices, axis=axis)
        want = np.split(x, indices, axis=axis)
        assert len(parts) == len(want)
        for got, w in zip(parts, want, strict=True):
            assert got.shape == w.shape
            np.testing.assert_array_equal(got.numpy(), w)
    parts = mt.ops.split(t.T, 2)  # a strided input
    for got, w in zip(parts, np.split(x.T, 2), strict=True):
        np.testing.assert_array_equal(got.numpy(), w)


def test_split_errors(ctx: mt.Context) -> None:
    t = ctx.tensor(np.zeros((6, 4), np.float32))
    with pytest.raises(mt.ShapeError, match="cannot be split into 4 equal parts"):
        mt.ops.split(t, 4)
    with pytest.raises(mt.ShapeError, match="into 0 equal parts"):
        mt.ops.split(t, 0)
    with pytest.raises(mt.ArgumentError, match="either sections"):
        mt.ops.split(t)
    with pytest.raises(mt.ArgumentError, match="either sections"):
        mt.ops.split(t, 2, indices=[1])
    with pytest.raises(mt.ShapeError, match="axis -3 is out of range"):
        mt.ops.split(t, 2, axis=-3)
    with pytest.raises(mt.ShapeError, match="0-dimensional"):
        mt.ops.split(ctx.tensor(np.float32(1)), 1)
