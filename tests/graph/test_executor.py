"""Every node kind of the graph IR through mt.Graph and ctx.run_graph (the host device's reference
executor; MPSGraph on Metal) against numpy: shapes with broadcasting, odd sizes, empty tensors, f32
and f16 (an f16 node rounds its results to f16), and the builder's errors from Python."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import metallic as mt
import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "ops"))
from test_matmul import reference as matmul_reference  # noqa: E402

DTYPES = {"f32": np.float32, "f16": np.float16}
# f16: each node rounds to f16 (spacing 1e-3 near 1); the reference rounds its result once.
TOL = {"f32": 2e-6, "f16": 2e-3}


def run(ctx: mt.Context, g: mt.Graph, *arrays: np.ndarray) -> list[np.ndarray]:
    """Executes `g` on `arrays` (one per placeholder) and returns its outputs as float64."""
    outs = ctx.run_graph(g, [ctx.tensor(a) for a in arrays])
    return [np.asarray(o.numpy(), np.float64) for o in outs]


def check(got: np.ndarray, expected: np.ndarray, dtype: str) -> None:
    expected = expected.astype(DTYPES[dtype]).astype(np.float64)
    np.testing.assert_allclose(got, expected, rtol=TOL[dtype], atol=TOL[dtype])


BINARY: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "add": np.add,
    "sub": np.subtract,
    "mul": np.multiply,
    "div": np.divide,
    "maximum": np.maximum,
}


@pytest.mark.parametrize("dtype", ["f32", "f16"])
@pytest.mark.parametrize("kind", sorted(BINARY))
@pytest.mark.parametrize(
    ("a_shape", "b_shape"),
    [((7,), (7,)), ((2, 1, 5), (3, 1)), ((3, 33), ()), ((0, 4), (1, 4)), ((4, 1, 1), (1, 3, 1))],
)
def test_binary_broadcasts_as_numpy(
    ctx: mt.Context, kind: str, a_shape: tuple[int, ...], b_shape: tuple[int, ...], dtype: str
) -> None:
    rng = np.random.default_rng(0)
    a = rng.standard_normal(a_shape).astype(DTYPES[dtype])
    b = (rng.random(b_shape) + 0.5).astype(DTYPES[dtype])  # away from 0 for div
    g = mt.Graph()
    x, y = g.placeholder("a", dtype, a_shape), g.placeholder("b", dtype, b_shape)
    out = getattr(g, kind)(x, y)
    g.set_outputs([out])
    (got,) = run(ctx, g, a, b)
    assert got.shape == np.broadcast_shapes(a_shape, b_shape) == tuple(g.node_shape(out))
    check(got, BINARY[kind](a.astype(np.float64), b.astype(np.float64)), dtype)


@pytest.mark.parametrize("dtype", ["f32", "f16"])
def test_unary_nodes_constant_cast_and_reshape(ctx: mt.Context, dtype: str) -> None:
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 5, 7)).astype(DTYPES[dtype])
    g = mt.Graph()
    p = g.placeholder("x", dtype, x.shape)
    outs = [
        g.scale(p, -0.75),
        g.exp(p),
        g.add(p, g.constant(0.5, dtype)),
        g.reshape(p, [7, 15]),
        g.cast(p, "f32" if dtype == "f16" else "f16"),
    ]
    g.set_outputs(outs)
    scaled, exp, plus, reshaped, cast = run(ctx, g, x)
    x64 = x.astype(np.float64)
    check(scaled, -0.75 * x64, dtype)
    check(exp, np.exp(x64), dtype)
    check(plus, x64 + 0.5, dtype)
    np.testing.assert_array_equal(reshaped, x64.reshape(7, 15))
    np.testing.assert_allclose(cast, x64, rtol=1e-3, atol=1e-3)  # the f16 side rounds


@pytest.mark.parametrize("dtype", ["f32", "f16"])
@pytest.mark.parametrize(
    ("shape", "axes"), [((4, 9), [1]), ((3, 5, 7), [0, 2]), ((2, 3, 4), [-2]), ((0, 3), [0])]
)
def test_reductions(ctx: mt.Context, shape: tuple[int, ...], axes: list[int], dtype: str) -> None:
    x = np.random.default_rng(2).standard_normal(shape).astype(DTYPES[dtype])
    g = mt.Graph()
    p = g.placeholder("x", dtype, shape)
    g.set_outputs([g.reduce_max(p, axes), g.reduce_sum(p, axes)])
    got_max, got_sum = run(ctx, g, x)
    x64 = x.astype(np.float64)
    expected_max = x64.max(axis=tuple(axes), keepdims=True, initial=-np.inf)  # -inf when empty
    np.testing.assert_array_equal(got_max, expected_max.astype(DTYPES[dtype]))
    check(got_sum, x64.sum(axis=tuple(axes), keepdims=True), dtype)


@pytest.mark.parametrize("dtype", ["f32", "f16"])
@pytest.mark.parametrize(
    ("shape", "axis"), [((3, 17), -1), ((4, 5, 6), 1), ((5, 2), 0), ((2, 0), -1)]
)
def test_softmax_along_any_axis(
    ctx: mt.Context, shape: tuple[int, ...], axis: int, dtype: str
) -> None:
    x = (3 * np.random.default_rng(3).standard_normal(shape)).astype(DTYPES[dtype])
    g = mt.Graph()
    g.set_outputs([g.softmax(g.placeholder("x", dtype, shape), axis)])
    (got,) = run(ctx, g, x)
    x64 = x.astype(np.float64)
    e = np.exp(x64 - x64.max(axis=axis, keepdims=True)) if x.size else x64
    check(got, e / e.sum(axis=axis, keepdims=True) if x.size else x64, dtype)


@pytest.mark.parametrize("offset", [0, 2, -1])
def test_causal_and_additive_masks(ctx: mt.Context, offset: int) -> None:
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, 4, 6)).astype(np.float32)
    mask = np.where(rng.random((4, 6)) < 0.3, -np.inf, 0.0).astype(np.float16)
    g = mt.Graph()
    p, m = g.placeholder("x", "f32", x.shape), g.placeholder("mask", "f16", mask.shape)
    causal = g.causal_mask(p, offset)
    g.set_outputs([causal, g.additive_mask(p, m), g.softmax(causal, -1)])
    got_causal, got_masked, got_softmax = run(ctx, g, x, mask)
    hidden = np.arange(6)[None, :] > np.arange(4)[:, None] + offset
    np.testing.assert_array_equal(got_causal, np.where(hidden, -np.inf, x))
    np.testing.assert_array_equal(got_masked, x + mask.astype(np.float32))
    if offset == -1:  # query 0 sees no key: its row of the softmax is 0, not NaN
        assert not got_softmax[:, 0].any()


def test_transpose(ctx: mt.Context) -> None:
    x = np.arange(2 * 3 * 5, dtype=np.float32).reshape(2, 3, 5)
    g = mt.Graph()
    p = g.placeholder("x", "f32", x.shape)
    g.set_outputs([g.transpose(p, [2, 0, 1]), g.transpose(p, [0, -1, 1])])
    a, b = run(ctx, g, x)
    np.testing.assert_array_equal(a, x.transpose(2, 0, 1))
    np.testing.assert_array_equal(b, x.transpose(0, 2, 1))


@pytest.mark.parametrize("dtype", ["f32", "f16"])
@pytest.mark.parametrize(
    ("a_shape", "b_shape", "ta", "tb"),
    [
        ((5, 7), (7, 3), False, False),
        ((7, 5), (3, 7), True, True),
        ((2, 1, 4, 6), (3, 6, 5), False, False),  # batch [2, 1] against [3]: a call per entry
        ((4, 0), (0, 2), False, False),
    ],
)
def test_matmul(
    ctx: mt.Context,
    a_shape: tuple[int, ...],
    b_shape: tuple[int, ...],
    ta: bool,
    tb: bool,
    dtype: str,
) -> None:
    rng = np.random.default_rng(5)
    a, b = (rng.standard_normal(s).astype(DTYPES[dtype]) for s in (a_shape, b_shape))
    g = mt.Graph()
    out = g.matmul(g.placeholder("a", dtype, a_shape), g.placeholder("b", dtype, b_shape), ta, tb)
    g.set_outputs([out])
    (got,) = run(ctx, g, a, b)
    expected = matmul_reference(a, b, ta, tb)
    assert tuple(g.node_shape(out)) == expected.shape
    np.testing.assert_allclose(got, expected, rtol=3 * TOL[dtype], atol=3 * TOL[dtype] * 4)


def test_graph_errors_from_python(ctx: mt.Context) -> None:
    g = mt.Graph()
    a, b = g.placeholder("a", "f32", [2, 3]), g.placeholder("b", "f32", [4, 3])
    with pytest.raises(
        mt.ShapeError, match=r"graph add: shapes \[2, 3\] and \[4, 3\] do not broadcast"
    ):
        g.add(a, b)
    with pytest.raises(mt.DTypeError, match="graph mul: .*f32 and f16.*insert a cast"):
        g.mul(a, g.placeholder("h", "f16", [2, 3]))
    g.set_outputs([g.exp(a)])
    assert "exp %0 : f32[2, 3]" in g.describe()
    with pytest.raises(mt.ArgumentError, match="the graph takes 3 inputs and 1 outputs, got 1"):
        ctx.run_graph(g, [ctx.tensor(np.ones((2, 3), np.float32))])
    if ctx.device == "host":  # the reference executor computes on floats only
        ints = mt.Graph()
        ints.set_outputs([ints.placeholder("i", "i32", [2])])
        with pytest.raises(mt.DTypeError, match="f32, f16 and bf16 nodes, not i32"):
            ctx.run_graph(ints, [ctx.tensor(np.ones(2, np.int32))])
    t = ctx.tensor(np.ones((3, 2), np.float32)).transpose(1, 0)
    with pytest.raises(mt.ArgumentError, match="contiguous"):
        ctx.run_graph(g, [t, t, t])
