"""Indexing as numpy does it: ints, negative ints, slices with steps, None and `...`, each a view
(no copy) where strides allow; `.T` reverses the axes for any rank."""

from __future__ import annotations

from typing import Any

import metallic as mt
import numpy as np
import pytest

KEYS: list[Any] = [
    0,
    -1,
    (0, 1),
    (1, -2, 3),
    slice(0, 1),
    slice(None, None, 2),
    slice(None, None, -1),
    slice(5, 9),  # past the end: clipped, as in numpy
    slice(2, 0),  # empty
    (slice(None), slice(1, None, 2)),
    (Ellipsis, 1),
    (1, Ellipsis),
    (Ellipsis,),
    (None,),
    (None, 0, Ellipsis, None),
    (slice(None, None, -2), None, slice(3, 0, -2)),
    (0, slice(None), None, slice(None, None, -3)),
    (),
]


@pytest.mark.parametrize("key", KEYS, ids=repr)
def test_views_match_numpy(ctx: mt.Context, key: Any) -> None:
    x = np.arange(2 * 3 * 5, dtype=np.float32).reshape(2, 3, 5)
    t = ctx.tensor(x)
    view = t[key]
    expected = x[key]
    assert view.shape == expected.shape
    np.testing.assert_array_equal(view.numpy(), expected)
    # A view: no copy, and numpy's strides (where a dimension has more than one entry).
    assert np.shares_memory(view.numpy(), t.numpy()) or expected.size == 0
    ours = [s * x.itemsize for s, n in zip(view.strides, view.shape, strict=True) if n > 1]
    theirs = [s for s, n in zip(expected.strides, expected.shape, strict=True) if n > 1]
    assert ours == theirs


def test_views_of_views_and_other_dtypes(ctx: mt.Context) -> None:
    x = np.arange(4 * 6, dtype=np.int32).reshape(4, 6)
    t = ctx.tensor(x)
    np.testing.assert_array_equal(t[::-1][1:, ::2][0].numpy(), x[::-1][1:, ::2][0])
    np.testing.assert_array_equal(t[1:3][:, -1].numpy(), x[1:3][:, -1])
    h = ctx.tensor(x.astype(np.float16))
    np.testing.assert_array_equal(h[:, 1::3].numpy(), x[:, 1::3].astype(np.float16))
    assert t[2, 3].numpy().shape == () and t[2, 3].item() == x[2, 3]


def test_a_contiguous_view_works_with_ops(ctx: mt.Context) -> None:
    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    t = ctx.tensor(x)
    row = t[1]
    assert row.is_contiguous()
    np.testing.assert_array_equal(mt.ops.add(row, row).numpy(), x[1] * 2)
    np.testing.assert_array_equal(mt.ops.add(t[0:2], t[1:3]).numpy(), x[0:2] + x[1:3])
    assert not t[:, ::2].is_contiguous()
    np.testing.assert_array_equal(mt.ops.add(t[:, ::2], t[:, ::2]).numpy(), x[:, ::2] * 2)


@pytest.mark.parametrize("shape", [(), (5,), (2, 3), (2, 3, 4), (2, 1, 3, 1, 2)])
def test_T_reverses_the_axes(ctx: mt.Context, shape: tuple[int, ...]) -> None:
    x = np.arange(int(np.prod(shape)), dtype=np.float32).reshape(shape)
    t = ctx.tensor(x)
    assert t.T.shape == x.T.shape
    np.testing.assert_array_equal(t.T.numpy(), x.T)
    np.testing.assert_array_equal(t.T.T.numpy(), x)
    perm = tuple(reversed(range(len(shape))))
    np.testing.assert_array_equal(t.transpose(perm).numpy(), x.transpose(perm))


def test_iteration_and_len(ctx: mt.Context) -> None:
    x = np.arange(6, dtype=np.float32).reshape(3, 2)
    t = ctx.tensor(x)
    assert len(t) == 3
    rows = [r.numpy().tolist() for r in t]
    assert rows == x.tolist()
    with pytest.raises(TypeError, match="0-dimensional"):
        len(t[0, 0])


def test_bad_indices_are_clear_errors(ctx: mt.Context) -> None:
    t = ctx.tensor(np.zeros((2, 3), np.float32))
    with pytest.raises(mt.IndexError, match="index 2 is out of range for dimension 0 of size 2"):
        t[2]
    with pytest.raises(IndexError, match="index -4 is out of range for dimension 1 of size 3"):
        t[0, -4]
    assert issubclass(mt.IndexError, mt.ShapeError) and issubclass(mt.IndexError, IndexError)
    with pytest.raises(mt.IndexError, match="too many indices"):
        t[0, 0, 0]
    with pytest.raises(mt.IndexError, match="single ellipsis"):
        t[..., 0, ...]
    with pytest.raises(mt.IndexError, match="out of range"):
        t[2**70]
    with pytest.raises(ValueError, match="slice step cannot be zero"):
        t[::0]
    for bad in ([0, 1], np.array([0, 1]), True, 1.5, "a"):
        with pytest.raises(mt.ArgumentError, match="indexed with ints, slices, None and '...'"):
            t[bad]
    with pytest.raises(mt.IndexError, match="0-dimensional"):
        t[0, 0][0]
