"""Binary elementwise ops (metal/elemwise_<op>) against numpy: broadcasting, scalars, views."""

from __future__ import annotations

import zlib

import metallic as mt
import numpy as np
import pytest
from _refs import bf16

ARITHMETIC = {
    "add": np.add,
    "sub": np.subtract,
    "mul": np.multiply,
    "div": np.divide,
    "maximum": np.maximum,
    "minimum": np.minimum,
}
# Sizes around the threadgroup width (256) and the run of 4, odd ones, tiny and large.
SHAPES = [(1,), (7,), (255,), (257,), (1000,), (3, 5), (2, 3, 17), (33, 129), (65537,)]
# Both operands broadcast: size-1 dimensions anywhere and rank mismatch, on either side.
BROADCASTS = [
    ((4, 5), (5,)),
    ((5,), (4, 5)),
    ((2, 3, 4), (1, 4)),
    ((3, 1), (1, 7)),
    ((1, 7), (3, 1)),
    ((5, 1, 3), (4, 1)),
    ((2, 1, 3, 1), (5, 1, 6)),
    ((3, 257), (3, 1)),
    ((7, 9), (1,)),
    ((), (4, 3)),
    ((0, 3), (1, 3)),
    ((4, 0), (1,)),
]


def _inputs(rng: np.random.Generator, shape: tuple[int, ...], dtype: type) -> np.ndarray:
    return rng.standard_normal(shape).astype(dtype)


@pytest.mark.parametrize("name", ARITHMETIC)
@pytest.mark.parametrize("dtype", [np.float32, np.float16])
@pytest.mark.parametrize("shape", SHAPES)
def test_same_shape(ctx: mt.Context, name: str, dtype: type, shape: tuple[int, ...]) -> None:
    rng = np.random.default_rng(zlib.crc32(f"{name} {shape}".encode()))  # not hash(): per process
    a = _inputs(rng, shape, dtype)
    b = _inputs(rng, shape, dtype)
    out = getattr(mt.ops, name)(ctx.tensor(a), ctx.tensor(b))
    assert out.shape == shape
    assert out.dtype == ("f32" if dtype == np.float32 else "f16")
    # Both compute in the storage type's arithmetic (float rounded once): equal to the last bit.
    np.testing.assert_array_equal(out.numpy(), ARITHMETIC[name](a, b))


@pytest.mark.parametrize("name", ARITHMETIC)
@pytest.mark.parametrize("dtype", [np.float32, np.float16])
@pytest.mark.parametrize(("a_shape", "b_shape"), BROADCASTS)
def test_broadcast(
    ctx: mt.Context, name: str, dtype: type, a_shape: tuple[int, ...], b_shape: tuple[int, ...]
) -> None:
    rng = np.random.default_rng(7)
    a = _inputs(rng, a_shape, dtype)
    b = _inputs(rng, b_shape, dtype) + dtype(3)  # away from zero for div
    out = getattr(mt.ops, name)(ctx.tensor(a), ctx.tensor(b))
    expected = ARITHMETIC[name](a, b)
    assert out.shape == expected.shape
    np.testing.assert_array_equal(out.numpy(), expected)


@pytest.mark.parametrize("name", ARITHMETIC)
@pytest.mark.parametrize(
    ("a_shape", "b_shape"), [((257,), (257,)), ((3, 33), (33,)), ((5, 1), (1, 3))]
)
def test_bfloat16(
    ctx: mt.Context, name: str, a_shape: tuple[int, ...], b_shape: tuple[int, ...]
) -> None:
    rng = np.random.default_rng(3)
    a = bf16(rng.standard_normal(a_shape).astype(np.float32))
    b = bf16(rng.standard_normal(b_shape).astype(np.float32) + 3)
    out = getattr(mt.ops, name)(ctx.tensor(a, dtype="bf16"), ctx.tensor(b, dtype="bf16"))
    assert out.dtype == "bf16"
    # bfloat arithmetic is float arithmetic rounded to bfloat, on the GPU and on the host.
    np.testing.assert_array_equal(out.numpy(), bf16(ARITHMETIC[name](a, b)))


@pytest.mark.parametrize("name", ["add", "sub", "mul", "maximum", "minimum"])
@pytest.mark.parametrize("dtype", [np.int32, np.uint32])
def test_integers(ctx: mt.Context, name: str, dtype: type) -> None:
    rng = np.random.default_rng(11)
    a = rng.integers(0, 1000, (6, 37)).astype(dtype)
    b = rng.integers(0, 1000, (37,)).astype(dtype)
    out = getattr(mt.ops, name)(ctx.tensor(a), ctx.tensor(b))
    assert out.dtype == {np.int32: "i32", np.uint32: "u32"}[dtype]
    np.testing.assert_array_equal(out.numpy(), ARITHMETIC[name](a, b))
    np.testing.assert_array_equal(
        getattr(mt.ops, name)(ctx.tensor(a), 7).numpy(), ARITHMETIC[name](a, dtype(7))
    )


@pytest.mark.parametrize("name", ARITHMETIC)
@pytest.mark.parametrize("dtype", [np.float32, np.float16])
@pytest.mark.parametrize("shape", [(1,), (257,), (3, 0), (4, 9, 5)])
def test_scalar_operands(ctx: mt.Context, name: str, dtype: type, shape: tuple[int, ...]) -> None:
    rng = np.random.default_rng(5)
    a = _inputs(rng, shape, dtype) + dtype(3)
    t = ctx.tensor(a)
    f = ARITHMETIC[name]
    # numpy casts a Python scalar to the array's dtype (NEP 50), as metallic does.
    np.testing.assert_array_equal(getattr(mt.ops, name)(t, 2.5).numpy(), f(a, dtype(2.5)))
    np.testing.assert_array_equal(getattr(mt.ops, name)(-1.25, t).numpy(), f(dtype(-1.25), a))
    if len(shape) >= 2:  # a strided view
        view = getattr(mt.ops, name)(t.swapaxes(0, 1), 3).numpy()
        np.testing.assert_array_equal(view, f(a.swapaxes(0, 1), dtype(3)))


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_pow(ctx: mt.Context, dtype: type) -> None:
    rng = np.random.default_rng(9)
    a = (np.abs(_inputs(rng, (5, 67), dtype)) + dtype(0.5)).astype(dtype)
    b = _inputs(rng, (67,), dtype)
    tol = {"rtol": 1e-6, "atol": 0} if dtype == np.float32 else {"rtol": 1e-3, "atol": 0}
    got = mt.ops.pow(ctx.tensor(a), ctx.tensor(b)).numpy()
    np.testing.assert_allclose(got, np.power(a, b), **tol)
    np.testing.assert_allclose(mt.ops.pow(ctx.tensor(a), 3.0).numpy(), a**3, **tol)
    np.testing.assert_allclose(mt.ops.pow(2.0, ctx.tensor(b)).numpy(), dtype(2) ** b, **tol)


def test_maximum_minimum_propagate_nan(ctx: mt.Context) -> None:
    a = np.array([np.nan, 1.0, 2.0, np.nan], np.float32)
    b = np.array([0.0, np.nan, 1.0, np.nan], np.float32)
    for name in ("maximum", "minimum"):
        out = getattr(mt.ops, name)(ctx.tensor(a), ctx.tensor(b)).numpy()
        np.testing.assert_array_equal(out, ARITHMETIC[name](a, b))


def test_views(ctx: mt.Context) -> None:
    x = np.arange(24, dtype=np.float32).reshape(4, 6)
    t = ctx.tensor(x)
    np.testing.assert_array_equal(mt.ops.add(t.slice(1, 3), t.slice(1, 3)).numpy(), x[1:3] * 2)
    np.testing.assert_array_equal(mt.ops.add(t[2], t[3]).numpy(), x[2] + x[3])
    # Transposed (non-contiguous) operands take the strided path.
    np.testing.assert_array_equal(mt.ops.mul(t.T, t.T).numpy(), x.T * x.T)
    np.testing.assert_array_equal(mt.ops.sub(t.T, t[0].reshape(6, 1)).numpy(), x.T - x[0][:, None])


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
    np.testing.assert_array_equal((a + 2).numpy(), x + 2)
    np.testing.assert_array_equal((2 * a).numpy(), 2 * x)
    np.testing.assert_array_equal((1 - a).numpy(), 1 - x)
    np.testing.assert_array_equal((1 / a).numpy(), np.float32(1) / x)
    np.testing.assert_array_equal((a**2).numpy(), x**2)
    np.testing.assert_allclose((2**a).numpy(), np.float32(2) ** x, rtol=1e-6)
    np.testing.assert_array_equal((-a).numpy(), -x)
    np.testing.assert_array_equal(abs(-a).numpy(), x)
    with pytest.raises(TypeError):
        a + "1"  # noqa: B018 - not a number: Python's own TypeError


def test_division_by_zero_gives_ieee_results(ctx: mt.Context) -> None:
    a = np.array([1.0, -1.0, 0.0], dtype=np.float32)
    out = mt.ops.div(ctx.tensor(a), ctx.tensor(np.zeros(3, np.float32))).numpy()
    assert out[0] == np.inf and out[1] == -np.inf and np.isnan(out[2])


class TestBadInput:
    def test_dtype_mismatch(self, ctx: mt.Context) -> None:
        a = ctx.tensor(np.ones(4, np.float32))
        b = ctx.tensor(np.ones(4, np.float16))
        with pytest.raises(mt.DTypeError, match="dtypes differ"):
            mt.ops.add(a, b)
        with pytest.raises(TypeError):  # DTypeError is also a TypeError
            mt.ops.add(a, b)

    def test_unsupported_dtype(self, ctx: mt.Context) -> None:
        ints = ctx.tensor(np.ones(4, np.int32))
        with pytest.raises(mt.DTypeError, match="f32, f16, bf16"):
            mt.ops.div(ints, ints)
        with pytest.raises(mt.DTypeError, match="i8"):
            mt.ops.add(ctx.tensor(np.ones(4, np.int8)), 1)

    def test_scalar_not_representable(self, ctx: mt.Context) -> None:
        ints = ctx.tensor(np.ones(4, np.int32))
        with pytest.raises(mt.DTypeError, match=r"scalar b = 2\.5 is not a i32 value"):
            mt.ops.add(ints, 2.5)
        with pytest.raises(mt.DTypeError, match="is not a u32 value"):
            mt.ops.sub(ctx.tensor(np.ones(4, np.uint32)), -1)

    def test_two_scalars(self, ctx: mt.Context) -> None:
        with pytest.raises(mt.ArgumentError, match="needs a Tensor argument"):
            mt.ops.add(1, 2)
        with pytest.raises(mt.ArgumentError, match="both scalars"):
            ctx.call(mt.ops.ElemwiseAddOp, 1.0, 2.0)

    def test_not_broadcastable(self, ctx: mt.Context) -> None:
        a = ctx.tensor(np.ones((4, 5), np.float32))
        for shape in [(4,), (5, 5), (2, 4, 3), (3, 1)]:
            b = ctx.tensor(np.ones(shape, np.float32))
            with pytest.raises(mt.ShapeError, match=r"shapes do not broadcast \(a \[4, 5\], b"):
                mt.ops.mul(a, b)
            with pytest.raises(ValueError):  # ShapeError is also a ValueError
                mt.ops.mul(b, a)

    def test_tensor_of_another_context(self, ctx: mt.Context, device: str) -> None:
        other = mt.Context(device=device)
        a = ctx.tensor(np.ones(4, np.float32))
        b = other.tensor(np.ones(4, np.float32))
        with pytest.raises(mt.ArgumentError, match="another context"):
            mt.ops.add(a, b)

    def test_wrong_argument_types(self, ctx: mt.Context) -> None:
        a = ctx.tensor(np.ones(4, np.float32))
        with pytest.raises(mt.ArgumentError, match=r"'b' must be Tensor \| float, got str"):
            mt.ops.add(a, "3")
        with pytest.raises(mt.ArgumentError, match=r"got ndarray \(make one with ctx.tensor"):
            mt.ops.add(a, np.ones(1, np.float32))
        with pytest.raises(mt.ArgumentError, match="missing required argument 'b'"):
            mt.ops.add(a)
        with pytest.raises(mt.ArgumentError, match="unexpected argument 'c'"):
            mt.ops.add(a, a, c=a)
