"""Unary elementwise ops (metal/unary) against numpy, computed in f32 and rounded once."""

from __future__ import annotations

from collections.abc import Callable

import metallic as mt
import numpy as np
import pytest
from _refs import bf16


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _rsqrt(x: np.ndarray) -> np.ndarray:
    return 1.0 / np.sqrt(x)


# name -> (reference in f64, whether the input must be positive)
OPS: dict[str, tuple[Callable[[np.ndarray], np.ndarray], bool]] = {
    "neg": (np.negative, False),
    "abs": (np.abs, False),
    "exp": (np.exp, False),
    "log": (np.log, True),
    "sqrt": (np.sqrt, True),
    "rsqrt": (_rsqrt, True),
    "tanh": (np.tanh, False),
    "sigmoid": (_sigmoid, False),
    "sin": (np.sin, False),
    "cos": (np.cos, False),
    "square": (np.square, False),
}
SHAPES = [(1,), (7,), (257,), (3, 0), (5, 33), (2, 3, 129)]
# Relative tolerance against the f64 reference: the f32 math library's error, then the rounding
# of the storage type (half an ulp: 2^-11 for f16, 2^-8 for bf16).
RTOL = {"f32": 2e-6, "f16": 1e-3, "bf16": 8e-3}


def _input(shape: tuple[int, ...], positive: bool) -> np.ndarray:
    rng = np.random.default_rng(sum(shape) + len(shape))
    x = rng.uniform(-3, 3, shape)
    return np.abs(x) + 0.05 if positive else x


@pytest.mark.parametrize("name", OPS)
@pytest.mark.parametrize("dtype", ["f32", "f16", "bf16"])
@pytest.mark.parametrize("shape", SHAPES)
def test_unary(ctx: mt.Context, name: str, dtype: str, shape: tuple[int, ...]) -> None:
    ref, positive = OPS[name]
    x = _input(shape, positive).astype(np.float32)
    x = (
        bf16(x)
        if dtype == "bf16"
        else x.astype(np.float16).astype(np.float32)
        if dtype == "f16"
        else x
    )
    out = getattr(mt.ops, name)(ctx.tensor(x, dtype=dtype))
    assert out.dtype == dtype and out.shape == shape
    expected = ref(x.astype(np.float64))
    np.testing.assert_allclose(
        out.numpy().astype(np.float64), expected, rtol=RTOL[dtype], atol=1e-6
    )


@pytest.mark.parametrize("name", ["exp", "square", "neg"])
def test_strided_input(ctx: mt.Context, name: str) -> None:
    x = np.linspace(-2, 2, 35 * 6, dtype=np.float32).reshape(35, 6)
    t = ctx.tensor(x)
    out = getattr(mt.ops, name)(t.T)
    assert out.is_contiguous()
    np.testing.assert_allclose(out.numpy(), OPS[name][0](x.T), rtol=2e-6)


def test_special_values(ctx: mt.Context) -> None:
    x = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, -1.0], np.float32)
    t = ctx.tensor(x)
    with np.errstate(divide="ignore", invalid="ignore"):
        np.testing.assert_array_equal(mt.ops.log(t).numpy(), np.log(x))
        np.testing.assert_array_equal(mt.ops.sqrt(t).numpy(), np.sqrt(x))
        np.testing.assert_array_equal(mt.ops.exp(t).numpy()[:5], np.exp(x)[:5])
        np.testing.assert_array_equal(mt.ops.sigmoid(t).numpy()[2:5], [1.0, 0.0, np.nan])
        np.testing.assert_array_equal(mt.ops.abs(t).numpy(), np.abs(x))


def test_operators(ctx: mt.Context) -> None:
    x = np.array([[-1.5, 2.0], [0.25, -4.0]], np.float32)
    t = ctx.tensor(x)
    np.testing.assert_array_equal((-t).numpy(), -x)
    np.testing.assert_array_equal(abs(t).numpy(), np.abs(x))
    np.testing.assert_array_equal((t**2).numpy(), x**2)


class TestBadInput:
    @pytest.mark.parametrize("name", OPS)
    def test_integer_input(self, ctx: mt.Context, name: str) -> None:
        with pytest.raises(mt.DTypeError, match="f32, f16, bf16"):
            getattr(mt.ops, name)(ctx.tensor(np.ones(3, np.int32)))

    def test_not_a_tensor(self, ctx: mt.Context) -> None:
        with pytest.raises(mt.ArgumentError, match="argument 'x' must be Tensor"):
            mt.ops.exp(1.0)
