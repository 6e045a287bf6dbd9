"""kv_cache_write, repeat_kv_heads and kv_rearrange (strided copies by metal/copy) against numpy."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import metallic as mt
import numpy as np
import pytest
from layout_refs import sample

View = Callable[[Any], Any]

DTYPES = [np.float32, np.float16]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    ("shape", "position", "n"),
    [((1, 2, 8, 4), 0, 3), ((2, 3, 17, 5), 16, 1), ((1, 1, 5, 64), 0, 5), ((2, 2, 9, 7), 4, 0)],
)
def test_cache_write(
    ctx: mt.Context, dtype: type, shape: tuple[int, int, int, int], position: int, n: int
) -> None:
    rng = np.random.default_rng(1)
    cache0 = rng.standard_normal(shape).astype(dtype)
    new = rng.standard_normal((shape[0], shape[1], n, shape[3])).astype(dtype)
    cache = ctx.tensor(cache0)
    valid = mt.ops.kv_cache_write(cache, ctx.tensor(new), position)
    expected = cache0.copy()
    expected[:, :, position : position + n] = new
    # A copy: exact. The cache is written in place; the result views its valid prefix.
    np.testing.assert_array_equal(cache.numpy(), expected)
    assert valid.shape == (shape[0], shape[1], position + n, shape[3])
    np.testing.assert_array_equal(valid.numpy(), expected[:, :, : position + n])


# Views of a source array that new_values may be: (source shape, view) for a cache of
# [batch, heads, max_seq, head_dim] = [b, h, _, d] and n new positions.
STRIDED: list[tuple[str, Callable[[int, int, int, int], tuple[tuple[int, ...], View]]]] = [
    # Keys computed as [b, n, h, d] and passed transposed, as a decoder does.
    ("bshd transposed", lambda b, h, n, d: ((b, n, h, d), lambda x: x.transpose(0, 2, 1, 3))),
    # head_dim strided (every other element of a wider array).
    ("head_dim step 2", lambda b, h, n, d: ((b, h, n, 2 * d), lambda x: x[:, :, :, ::2])),
    # Reversed positions and heads: negative strides.
    ("reversed", lambda b, h, n, d: ((b, h, n, d), lambda x: x[:, ::-1, ::-1])),
    # Fully transposed source: no dimension contiguous.
    ("dhsb", lambda b, h, n, d: ((d, n, h, b), lambda x: x.transpose(3, 2, 1, 0))),
]


@pytest.mark.parametrize("dtype", ["f32", "f16", "bf16"])
@pytest.mark.parametrize(("name", "make"), STRIDED, ids=[name for name, _ in STRIDED])
@pytest.mark.parametrize(
    ("shape", "position", "n"), [((1, 2, 8, 4), 0, 3), ((2, 3, 17, 5), 9, 7), ((3, 2, 6, 33), 5, 1)]
)
def test_cache_write_strided_new_values(
    ctx: mt.Context,
    dtype: str,
    name: str,
    make: Callable[[int, int, int, int], tuple[tuple[int, ...], View]],
    shape: tuple[int, int, int, int],
    position: int,
    n: int,
) -> None:
    b, h, _, d = shape
    source_shape, view = make(b, h, n, d)
    rng = np.random.default_rng(6)
    source = sample(rng, source_shape, dtype)
    cache0 = sample(rng, shape, dtype)
    cache = ctx.tensor(cache0, dtype=dtype)
    new = view(ctx.tensor(source, dtype=dtype))
    assert new.shape == (b, h, n, d)
    valid = mt.ops.kv_cache_write(cache, new, position)
    expected = cache0.copy()
    expected[:, :, position : position + n] = view(source)
    np.testing.assert_array_equal(cache.numpy(), expected)
    np.testing.assert_array_equal(valid.contiguous().numpy(), expected[:, :, : position + n])


def test_cache_write_appends_step_by_step(ctx: mt.Context) -> None:
    rng = np.random.default_rng(2)
    steps = [rng.standard_normal((1, 2, n, 8)).astype(np.float32) for n in (5, 1, 1, 3)]
    cache = ctx.tensor(np.zeros((1, 2, 16, 8), np.float32))
    position = 0
    for new in steps:
        valid = mt.ops.kv_cache_write(cache, ctx.tensor(new), position)
        position += new.shape[2]
    np.testing.assert_array_equal(valid.numpy(), np.concatenate(steps, axis=2))


def test_cache_write_bf16(ctx: mt.Context) -> None:
    new = np.array([1.0, 2.5, -3.0, 0.125], np.float32).reshape(1, 1, 1, 4)
    cache = ctx.tensor(np.zeros((1, 1, 3, 4), np.float32), dtype="bf16")
    mt.ops.kv_cache_write(cache, ctx.tensor(new, dtype="bf16"), 2)
    np.testing.assert_array_equal(cache.numpy()[0, 0, 2], new[0, 0, 0])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    ("shape", "repeats"), [((1, 2, 5, 4), 7), ((2, 3, 1, 64), 2), ((1, 1, 3, 5), 1)]
)
def test_repeat_kv_heads(
    ctx: mt.Context, dtype: type, shape: tuple[int, int, int, int], repeats: int
) -> None:
    x = np.random.default_rng(3).standard_normal(shape).astype(dtype)
    out = mt.ops.repeat_kv_heads(ctx.tensor(x), repeats)
    np.testing.assert_array_equal(out.numpy(), np.repeat(x, repeats, axis=1))


@pytest.mark.parametrize("dtype", DTYPES)
def test_repeat_kv_heads_of_strided_views(ctx: mt.Context, dtype: type) -> None:
    x = np.random.default_rng(7).standard_normal((2, 5, 3, 6)).astype(dtype)
    t = ctx.tensor(x)
    for view in (lambda a: a.transpose(0, 2, 1, 3), lambda a: a.swapaxes(2, 3)[:, ::-1]):
        out = mt.ops.repeat_kv_heads(view(t), 3)
        np.testing.assert_array_equal(out.numpy(), np.repeat(view(x), 3, axis=1))


def test_repeat_kv_heads_of_a_cache_prefix(ctx: mt.Context) -> None:
    x = np.random.default_rng(4).standard_normal((1, 2, 9, 4)).astype(np.float32)
    valid = mt.ops.kv_cache_write(ctx.tensor(x), ctx.tensor(x[:, :, :3]), 3)  # strided view
    out = mt.ops.repeat_kv_heads(valid, 2)
    expected = x.copy()
    expected[:, :, 3:6] = x[:, :, :3]
    np.testing.assert_array_equal(out.numpy(), np.repeat(expected[:, :, :6], 2, axis=1))


def _split_qkv(qkv: np.ndarray, hq: int, hkv: int) -> list[np.ndarray]:
    b, s, f = qkv.shape
    d = f // (hq + 2 * hkv)
    heads = qkv.reshape(b, s, hq + 2 * hkv, d).transpose(0, 2, 1, 3)
    return [heads[:, :hq], heads[:, hq : hq + hkv], heads[:, hq + hkv :]]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    ("batch", "seq", "hq", "hkv", "d"), [(1, 1, 14, 2, 64), (2, 5, 4, 4, 8), (1, 7, 3, 1, 5)]
)
def test_kv_rearrange(
    ctx: mt.Context, dtype: type, batch: int, seq: int, hq: int, hkv: int, d: int
) -> None:
    qkv = np.random.default_rng(5).standard_normal((batch, seq, (hq + 2 * hkv) * d)).astype(dtype)
    outs = mt.ops.kv_rearrange(ctx.tensor(qkv), hq, hkv)
    assert isinstance(outs, tuple) and len(outs) == 3
    for got, want in zip(outs, _split_qkv(qkv, hq, hkv), strict=True):
        assert got.shape == want.shape
        np.testing.assert_array_equal(got.numpy(), want)


def test_kv_rearrange_2d_is_batch_one(ctx: mt.Context) -> None:
    qkv = np.arange(3 * 12, dtype=np.float32).reshape(3, 12)
    q, k, v = mt.ops.kv_rearrange(ctx.tensor(qkv), 2, 1)
    for got, want in zip((q, k, v), _split_qkv(qkv[None], 2, 1), strict=True):
        np.testing.assert_array_equal(got.numpy(), want)


def test_empty(ctx: mt.Context) -> None:
    q, k, v = mt.ops.kv_rearrange(ctx.tensor(np.zeros((0, 12), np.float32)), 2, 1)
    assert q.shape == (1, 2, 0, 3) and v.shape == (1, 1, 0, 3)
    out = mt.ops.repeat_kv_heads(ctx.tensor(np.zeros((1, 2, 0, 4), np.float32)), 3)
    assert out.shape == (1, 6, 0, 4)


class TestBadInput:
    def test_cache_write_position_out_of_range(self, ctx: mt.Context) -> None:
        cache = ctx.tensor(np.zeros((1, 1, 4, 2), np.float32))
        new = ctx.tensor(np.zeros((1, 1, 2, 2), np.float32))
        with pytest.raises(mt.ShapeError, match=r"positions \[3, 5\) do not fit"):
            mt.ops.kv_cache_write(cache, new, 3)
        with pytest.raises(mt.ShapeError, match="do not fit"):
            mt.ops.kv_cache_write(cache, new, -1)

    def test_cache_write_shape_and_dtype(self, ctx: mt.Context) -> None:
        cache = ctx.tensor(np.zeros((1, 2, 4, 2), np.float32))
        with pytest.raises(mt.ShapeError, match="batch, heads and head_dim"):
            mt.ops.kv_cache_write(cache, ctx.tensor(np.zeros((1, 1, 1, 2), np.float32)), 0)
        with pytest.raises(mt.ShapeError, match=r"\[batch, heads, seq, head_dim\]"):
            mt.ops.kv_cache_write(cache, ctx.tensor(np.zeros((2, 2), np.float32)), 0)
        with pytest.raises(mt.DTypeError, match="convert new_values"):
            mt.ops.kv_cache_write(cache, ctx.tensor(np.zeros((1, 2, 1, 2), np.float16)), 0)
        with pytest.raises(mt.DTypeError, match="f32, f16 or bf16"):
            mt.ops.kv_cache_write(
                ctx.tensor(np.zeros((1, 2, 4, 2), np.int32)),
                ctx.tensor(np.zeros((1, 2, 1, 2), np.int32)),
                0,
            )

    def test_cache_write_from_an_overlapping_view_of_the_cache(self, ctx: mt.Context) -> None:
        cache = ctx.tensor(np.zeros((1, 2, 6, 4), np.float32))
        with pytest.raises(mt.ArgumentError, match="view of the cache positions"):
            mt.ops.kv_cache_write(cache, cache[:, :, 1:3], 2)

    def test_cache_write_needs_contiguous_cache(self, ctx: mt.Context) -> None:
        cache = ctx.tensor(np.zeros((1, 4, 2, 2), np.float32)).swapaxes(1, 2)
        with pytest.raises(mt.ShapeError, match="contiguous"):
            mt.ops.kv_cache_write(cache, ctx.tensor(np.zeros((1, 2, 1, 2), np.float32)), 0)

    def test_repeat_kv_heads(self, ctx: mt.Context) -> None:
        x = ctx.tensor(np.zeros((1, 2, 3, 4), np.float32))
        with pytest.raises(mt.ArgumentError, match="at least 1"):
            mt.ops.repeat_kv_heads(x, 0)
        with pytest.raises(mt.ShapeError, match=r"\[batch, heads, seq, head_dim\]"):
            mt.ops.repeat_kv_heads(x[0], 2)

    def test_kv_rearrange(self, ctx: mt.Context) -> None:
        qkv = ctx.tensor(np.zeros((2, 3, 20), np.float32))
        with pytest.raises(mt.ShapeError, match=r"\(q_heads \+ 2 \* kv_heads\) \* head_dim"):
            mt.ops.kv_rearrange(qkv, 4, 2)
        with pytest.raises(mt.ArgumentError, match="at least 1"):
            mt.ops.kv_rearrange(qkv, 0, 2)
        with pytest.raises(mt.ShapeError, match="batch, seq, features"):
            mt.ops.kv_rearrange(ctx.tensor(np.zeros(20, np.float32)), 2, 1)
