"""Gather (metal/gather): take and embedding against numpy."""

from __future__ import annotations

import metallic as mt
import numpy as np
import pytest
from _refs import bf16


@pytest.mark.parametrize("dtype", ["f32", "f16", "bf16", "i32"])
@pytest.mark.parametrize("index_dtype", [np.int32, np.uint32])
@pytest.mark.parametrize(
    ("vocab", "dim", "ids_shape"), [(10, 1, (3,)), (97, 33, (5, 7)), (300, 896, (4,)), (5, 3, (0,))]
)
def test_embedding(
    ctx: mt.Context, dtype: str, index_dtype: type, vocab: int, dim: int, ids_shape: tuple[int, ...]
) -> None:
    rng = np.random.default_rng(31)
    table = rng.standard_normal((vocab, dim)).astype(np.float32)
    table = (
        bf16(table)
        if dtype == "bf16"
        else table.astype({"f16": np.float16, "i32": np.int32}.get(dtype, np.float32))
    )
    ids = rng.integers(0, vocab, ids_shape).astype(index_dtype)
    out = mt.ops.embedding(ctx.tensor(table, dtype=dtype), ctx.tensor(ids))
    assert out.dtype == dtype and out.shape == (*ids_shape, dim)
    np.testing.assert_array_equal(out.numpy(), table[ids])


@pytest.mark.parametrize(
    ("shape", "axis"), [((4, 5, 6), 0), ((4, 5, 6), 1), ((4, 5, 6), -1), ((7,), 0), ((3, 257), 1)]
)
def test_take(ctx: mt.Context, shape: tuple[int, ...], axis: int) -> None:
    rng = np.random.default_rng(37)
    x = rng.standard_normal(shape).astype(np.float16)
    n = shape[axis]
    idx = rng.integers(-n, n, (2, 3)).astype(np.int32)  # negative ones count from the end
    out = mt.ops.take(ctx.tensor(x), ctx.tensor(idx), axis=axis)
    np.testing.assert_array_equal(out.numpy(), np.take(x, idx, axis=axis))


def test_out_of_range_is_an_error_with_host_checks(device: str) -> None:
    if device != "host":
        pytest.skip("the checks are the host device's")
    ctx = mt.Context(device="host", host_checks=True)
    table = ctx.tensor(np.ones((4, 3), np.float32))
    for bad in ([4], [-5], [1, 2**31 - 1]):
        out = mt.ops.embedding(table, ctx.tensor(np.array(bad, np.int32)))
        with pytest.raises(
            mt.DeviceError, match=r"out-of-range read: \[\[buffer\(0\)\]\] element 12"
        ):
            out.numpy()
    # Rows of a multiple of 16 bytes are copied as 16-byte vectors: the element is one of those.
    wide = ctx.tensor(np.ones((4, 8), np.float32))
    out = mt.ops.embedding(wide, ctx.tensor(np.array([0, 4], np.uint32)))
    with pytest.raises(mt.DeviceError, match=r"out-of-range read: \[\[buffer\(0\)\]\] element 8"):
        out.numpy()
    out = mt.ops.take(
        ctx.tensor(np.ones((2, 5), np.float32)), ctx.tensor(np.array([5], np.uint32)), axis=1
    )
    with pytest.raises(mt.DeviceError, match="out-of-range read"):
        out.numpy()


class TestBadInput:
    def test_index_dtype(self, ctx: mt.Context) -> None:
        table = ctx.tensor(np.ones((4, 3), np.float32))
        with pytest.raises(mt.DTypeError, match="indices must be i32 or u32, got f32"):
            mt.ops.embedding(table, ctx.tensor(np.zeros(2, np.float32)))

    def test_table_shape(self, ctx: mt.Context) -> None:
        ids = ctx.tensor(np.zeros(2, np.int32))
        with pytest.raises(mt.ShapeError, match=r"table must be \[vocab, dim\], got shape \[4\]"):
            mt.ops.embedding(ctx.tensor(np.ones(4, np.float32)), ids)

    def test_axis(self, ctx: mt.Context) -> None:
        x = ctx.tensor(np.ones((4, 3), np.float32))
        with pytest.raises(mt.ArgumentError, match="axis 2 is out of range"):
            mt.ops.take(x, ctx.tensor(np.zeros(2, np.int32)), axis=2)

    def test_non_contiguous(self, ctx: mt.Context) -> None:
        x = ctx.tensor(np.ones((4, 3), np.float32))
        with pytest.raises(mt.ShapeError, match=r"contiguous \(call .contiguous\(\) first\)"):
            mt.ops.take(x.T, ctx.tensor(np.zeros(2, np.int32)))

    def test_empty_axis(self, ctx: mt.Context) -> None:
        x = ctx.tensor(np.ones((0, 3), np.float32))
        with pytest.raises(mt.ShapeError, match="axis 0 of length 0"):
            mt.ops.embedding(x, ctx.tensor(np.zeros(2, np.int32)))
