"""Binary elementwise ops (metal/elemwise_{add,sub,mul,div}) against numpy."""

from __future__ import annotations

import zlib

import metallic as mt
import numpy as np
import pytest

OPS = {
    "add": np.add,
    "sub": np.subtract,
    "mul": np.multiply,
    "div": np.divide,
}

# Sizes around the threadgroup width (256), odd ones, tiny and large.
SHAPES = [
    (1,),
    (7,),
    (255,),
    (256,),
    (257,),
    (1000,),
    (3, 5),
    (2, 3, 17),
    (33, 129),
    (65537,),
    (1 << 20,),
]
BROADCASTS = [
    ((4, 5), (5,)),
    ((2, 3, 4), (3, 4)),
    ((2, 3, 4), (1, 4)),
    ((7, 9), (1,)),
    ((3, 257), (257,)),
    ((5, 1, 3), (1, 3)),
]


def _inputs(rng: np.random.Generator, shape: tuple[int, ...], dtype: type) -> np.ndarray:
    x = rng.standard_normal(shape).astype(dtype)
    return x


def _bf16(x: np.ndarray) -> np.ndarray:
    """float32 rounded to the nearest bfloat16 (ties to even), as float32 (numpy has no bf16)."""
    u = np.asarray(x, np.float32).view(np.uint32).astype(np.uint64)
    rounded = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16) << 16
    return rounded.astype(np.uint32).view(np.float32)


@pytest.mark.parametrize("name", OPS)
@pytest.mark.parametrize(("a_shape", "b_shape"), [((257,), (257,)), ((3, 33), (33,)), ((5,), (1,))])
def test_bfloat16(
    ctx: mt.Context, name: str, a_shape: tuple[int, ...], b_shape: tuple[int, ...]
) -> None:
    rng = np.random.default_rng(3)
    a = _bf16(rng.standard_normal(a_shape).astype(np.float32))
    b = _bf16(rng.standard_normal(b_shape).astype(np.float32) + 3)
    out = getattr(mt.ops, name)(ctx.tensor(a, dtype="bf16"), ctx.tensor(b, dtype="bf16"))
    assert out.dtype == "bf16"
    # bfloat arithmetic is float arithmetic rounded to bfloat, on the GPU and on the host.
    np.testing.assert_array_equal(out.numpy(), _bf16(OPS[name](a, b)))


@pytest.mark.parametrize("name", OPS)
@pytest.mark.parametrize("dtype", [np.float32, np.float16])
@pytest.mark.parametrize("shape", SHAPES)
def test_same_shape(ctx: mt.Context, name: str, dtype: type, shape: tuple[int, ...]) -> None:
    rng = np.random.default_rng(zlib.crc32(f"{name} {shape}".encode()))  # not hash(): per process
    a = _inputs(rng, shape, dtype)
    b = _inputs(rng, shape, dtype)
    if name == "div":
        b = np.where(np.abs(b) < 0.1, 1.0, b).astype(dtype)
    out = getattr(mt.ops, name)(ctx.tensor(a), ctx.tensor(b))
    assert out.shape == shape
    assert out.dtype == ("f32" if dtype == np.float32 else "f16")
    # Both compute in float and round once to the storage type: results agree to the last bit.
    np.testing.assert_array_equal(out.numpy(), OPS[name](a, b))


@pytest.mark.parametrize("name", OPS)
@pytest.mark.parametrize("dtype", [np.float32, np.float16])
@pytest.mark.parametrize(("a_shape", "b_shape"), BROADCASTS)
def test_broadcast(
    ctx: mt.Context, name: str, dtype: type, a_shape: tuple[int, ...], b_shape: tuple[int, ...]
) -> None:
    rng = np.random.default_rng(7)
    a = _inputs(rng, a_shape, dtype)
    b = _inputs(rng, b_shape, dtype) + dtype(3)  # away from zero for div
    out = getattr(mt.ops, name)(ctx.tensor(a), ctx.tensor(b))
    assert out.shape == a_shape
    np.testing.assert_array_equal(out.numpy(), OPS[name](a, b))


def test_call_api_matches_functional(ctx: mt.Context) -> None:
    a = ctx.tensor(np.arange(10, dtype=np.float32))
    b = ctx.tensor(np.full(10, 2.0, dtype=np.float32))
    via_call = ctx.call(mt.ops.ElemwiseMulOp, a, b).numpy()
    np.testing.assert_array_equal(via_call, np.arange(10, dtype=np.float32) * 2)
    np.testing.assert_array_equal(mt.ops.mul(a, b=b).numpy(), via_call)


def test_operators(ctx: mt.Context) -> None:
    x = np.arange(1, 7, dtype=np.float32).reshape(2, 3)
    b = np.array([1.0, 2.0, 4.0], np.float32)
    a, bt = ctx.tensor(x), ctx.tensor(b)
    np.testing.assert_array_equal((a + bt).numpy(), x + b)
    np.testing.assert_array_equal((a - bt).numpy(), x - b)
    np.testing.assert_array_equal((a * bt).numpy(), x * b)
    np.testing.assert_array_equal((a / bt).numpy(), x / b)
    with pytest.raises(TypeError):
        a + 1.0  # noqa: B018 - scalar operands need a kernel of their own


def test_division_by_zero_gives_ieee_results(ctx: mt.Context) -> None:
    a = np.array([1.0, -1.0, 0.0], dtype=np.float32)
    b = np.zeros(3, dtype=np.float32)
    out = mt.ops.div(ctx.tensor(a), ctx.tensor(b)).numpy()
    assert out[0] == np.inf and out[1] == -np.inf and np.isnan(out[2])


def test_empty_tensors(ctx: mt.Context) -> None:
    a = ctx.tensor(np.zeros((0, 4), dtype=np.float32))
    assert mt.ops.add(a, a).numpy().shape == (0, 4)


def test_results_on_views(ctx: mt.Context) -> None:
    x = np.arange(24, dtype=np.float32).reshape(4, 6)
    t = ctx.tensor(x)
    rows = t.slice(1, 3)
    out = mt.ops.add(rows, rows).numpy()
    np.testing.assert_array_equal(out, x[1:3] * 2)
    np.testing.assert_array_equal(mt.ops.add(t[2], t[3]).numpy(), x[2] + x[3])


class TestBadInput:
    def test_dtype_mismatch(self, ctx: mt.Context) -> None:
        a = ctx.tensor(np.ones(4, np.float32))
        b = ctx.tensor(np.ones(4, np.float16))
        with pytest.raises(mt.DTypeError, match="dtypes differ"):
            mt.ops.add(a, b)
        with pytest.raises(TypeError):  # DTypeError is also a TypeError
            mt.ops.add(a, b)

    def test_unsupported_dtype(self, ctx: mt.Context) -> None:
        a = ctx.tensor(np.ones(4, np.int32))
        with pytest.raises(mt.DTypeError, match="f32, f16 and bf16"):
            mt.ops.sub(a, a)

    def test_not_broadcastable(self, ctx: mt.Context) -> None:
        a = ctx.tensor(np.ones((4, 5), np.float32))
        for shape in [(4,), (5, 5), (2, 4, 5), (4, 1)]:
            b = ctx.tensor(np.ones(shape, np.float32))
            with pytest.raises(mt.ShapeError, match="cannot broadcast"):
                mt.ops.mul(a, b)
            with pytest.raises(ValueError):  # ShapeError is also a ValueError
                mt.ops.mul(a, b)

    def test_non_contiguous(self, ctx: mt.Context) -> None:
        a = ctx.tensor(np.ones((4, 5), np.float32))
        with pytest.raises(mt.ShapeError, match="contiguous"):
            mt.ops.div(a.T, a.T)

    def test_tensor_of_another_context(self, ctx: mt.Context, device: str) -> None:
        other = mt.Context(device=device)
        a = ctx.tensor(np.ones(4, np.float32))
        b = other.tensor(np.ones(4, np.float32))
        with pytest.raises(mt.ArgumentError, match="another context"):
            mt.ops.add(a, b)

    def test_wrong_argument_types(self, ctx: mt.Context) -> None:
        a = ctx.tensor(np.ones(4, np.float32))
        with pytest.raises(mt.ArgumentError, match="must be a Tensor"):
            mt.ops.add(a, 3.0)
        with pytest.raises(mt.ArgumentError, match="missing required argument 'b'"):
            mt.ops.add(a)
        with pytest.raises(mt.ArgumentError, match="unexpected argument 'c'"):
            mt.ops.add(a, a, c=a)
        with pytest.raises(mt.ArgumentError, match="needs at least one Tensor"):
            mt.ops.add(1, 2)
