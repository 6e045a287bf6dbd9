"""The strided-layout helpers shared by the strided kernels (cpp/src/ops/strided_layout.hpp:
collapse_dims and forward_binding, with the offsets of metal/common/strided.h), through every
family that uses them: copy and cast (two layouts), fill, the broadcasting ops (up to three
layouts, stride 0 where an operand broadcasts), unary ops and reductions. Each view is built the
same way on numpy and on a tensor, so the layouts carry its edge cases: size-1 axes among others,
zero-size axes, negative strides (reversed axes, bound at their lowest element), axes that merge
and axes that must not."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import metallic as mt
import numpy as np
import pytest

View = Callable[[Any], Any]
# (name, base shape, view)
VIEWS: list[tuple[str, tuple[int, ...], View]] = [
    ("size-1 axes between", (3, 1, 4, 1, 5), lambda a: a),
    ("size-1 axes added", (4, 6), lambda a: a[None, :, None, 1:]),
    ("reversed rows", (5, 7), lambda a: a[::-1]),
    ("reversed all", (3, 4, 5), lambda a: a[::-1, ::-1, ::-1]),
    ("reversed, stepped, size 1", (6, 1, 9), lambda a: a[::-2, :, ::-3]),
    ("contiguous block at an offset", (4, 5, 6), lambda a: a[1:3]),
    ("inner slice: no merge", (4, 5, 6), lambda a: a[:, 1:4]),
    ("transposed", (3, 5, 7), lambda a: a.transpose(2, 0, 1)),
    ("zero-size", (3, 0, 4), lambda a: a),
    ("zero-size after slicing", (4, 5), lambda a: a[2:2, ::-1]),
]
IDS = [name for name, _, _ in VIEWS]


def _pair(shape: tuple[int, ...], view: View, ctx: mt.Context) -> tuple[np.ndarray, mt.Tensor]:
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    return view(x), view(ctx.tensor(x))


@pytest.mark.parametrize(("name", "shape", "view"), VIEWS, ids=IDS)
def test_copy_and_cast(ctx: mt.Context, name: str, shape: tuple[int, ...], view: View) -> None:
    want, t = _pair(shape, view, ctx)
    assert t.shape == want.shape
    np.testing.assert_array_equal(mt.ops.copy(t).numpy(), want)
    np.testing.assert_array_equal(mt.ops.astype(t, "f16").numpy(), want.astype(np.float16))


@pytest.mark.parametrize(("name", "shape", "view"), VIEWS, ids=IDS)
def test_fill_and_copyto_into_views(
    ctx: mt.Context, name: str, shape: tuple[int, ...], view: View
) -> None:
    base = np.random.default_rng(1).standard_normal(shape).astype(np.float32)
    t = ctx.tensor(base)
    view(t)[...] = 2.5
    want = base.copy()
    view(want)[...] = 2.5
    np.testing.assert_array_equal(t.numpy(), want)
    # A source broadcast along its first axis (stride 0) written into the view.
    src = np.arange(view(want).shape[-1] if view(want).ndim else 1, dtype=np.float32)
    mt.ops.copyto(view(t), ctx.tensor(src) if view(want).ndim else 7.0)
    view(want)[...] = src if view(want).ndim else 7.0
    np.testing.assert_array_equal(t.numpy(), want)


@pytest.mark.parametrize(("name", "shape", "view"), VIEWS, ids=IDS)
def test_broadcasting_ops(ctx: mt.Context, name: str, shape: tuple[int, ...], view: View) -> None:
    want, t = _pair(shape, view, ctx)
    # b: the view's last axis, broadcast over the others (stride 0); c: the view reversed.
    row = np.linspace(-1, 1, want.shape[-1], dtype=np.float32)
    flipped = np.ascontiguousarray(want[..., ::-1])
    np.testing.assert_allclose(mt.ops.add(t, ctx.tensor(row)).numpy(), want + row, rtol=1e-6)
    np.testing.assert_allclose(mt.ops.mul(ctx.tensor(row), t).numpy(), row * want, rtol=1e-6)
    got = mt.ops.where(mt.ops.greater(t, 0.0), t, ctx.tensor(flipped))
    np.testing.assert_array_equal(got.numpy(), np.where(want > 0, want, flipped))
    np.testing.assert_allclose(mt.ops.exp(t).numpy(), np.exp(want), rtol=1e-6)


@pytest.mark.parametrize(("name", "shape", "view"), VIEWS, ids=IDS)
def test_reductions(ctx: mt.Context, name: str, shape: tuple[int, ...], view: View) -> None:
    want, t = _pair(shape, view, ctx)
    np.testing.assert_allclose(mt.ops.sum(t).item(), want.sum(), rtol=1e-5, atol=1e-5)
    for axis in range(want.ndim):
        np.testing.assert_allclose(
            mt.ops.sum(t, axis=axis).numpy(), want.sum(axis=axis), rtol=1e-5, atol=1e-6
        )
        if want.shape[axis] > 0:
            got = mt.ops.argmax(t, axis=axis).numpy()
            np.testing.assert_array_equal(got, want.argmax(axis=axis))
