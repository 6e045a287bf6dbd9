"""rms_norm, layer_norm and their fused residual forms (add_rms_norm, add_layer_norm) against
numpy in float64, over row lengths 1..16384 around the SIMD-group and threadgroup sizes, with
every backend of the device forced in turn (threadgroup; row on the host device)."""

from __future__ import annotations

import metallic as mt
import numpy as np
import pytest
from _float_ref import DTYPES, as_stored, assert_close, random_stored, read, to_tensor

# (rows..., N): N = 1, odd, not a multiple of 4, one and several SIMD groups, up to 16384.
SHAPES = [(1, 1), (3, 7), (2, 4), (5, 33), (4, 384), (2, 3, 896), (1, 1030), (3, 4099), (2, 16384)]
# f32 accumulation, one rounding to the storage type at the end: f32 to ~1e-6 of the unit-scale
# outputs, f16 / bf16 to about one ulp of their type.
BACKENDS = ["threadgroup", "row"]
TOL = {"f32": (1e-5, 1e-5), "f16": (2e-3, 2e-3), "bf16": (1.6e-2, 1.6e-2)}


def _force(ctx: mt.Context, op: str, backend: str) -> None:
    if backend not in mt.backends(ctx)[op]:
        pytest.skip(f"no {backend} backend for {op} on this device")
    ctx.set_backend(op, backend)
    ctx.backend_events(clear=True)


def _rms(x: np.ndarray, w: np.ndarray, eps: float) -> np.ndarray:
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * w


def _layer(x: np.ndarray, w: np.ndarray, b: np.ndarray, eps: float) -> np.ndarray:
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * w + b


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
def test_rms_norm(ctx: mt.Context, shape: tuple[int, ...], dtype: str, backend: str) -> None:
    _force(ctx, "rms_norm", backend)
    x, w = random_stored(shape, dtype, 1, scale=2.0), random_stored(shape[-1:], dtype, 2, scale=2.0)
    out = mt.ops.rms_norm(to_tensor(ctx, x, dtype), to_tensor(ctx, w, dtype), eps=1e-5)
    assert ctx.backend_events() == [("rms_norm", backend, "forced on this context")]
    assert_close(out, _rms(x, w, 1e-5), dtype, *TOL[dtype])


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
def test_layer_norm(ctx: mt.Context, shape: tuple[int, ...], dtype: str, backend: str) -> None:
    _force(ctx, "layer_norm", backend)
    # A large mean: a one-pass variance (E[x^2] - E[x]^2) would cancel, and a plain f32 sum of
    # 16384 values near 100 would lose ~1e-5 of the mean; the kernel sums x - x[0], then
    # (x - mean)^2 in a second pass.
    x = random_stored(shape, dtype, 3, scale=2.0, shift=100.0 if dtype == "f32" else 8.0)
    w, b = (
        random_stored(shape[-1:], dtype, 4, scale=2.0),
        random_stored(shape[-1:], dtype, 5, scale=2.0),
    )
    out = mt.ops.layer_norm(*(to_tensor(ctx, a, dtype) for a in (x, w, b)))
    assert_close(out, _layer(x, w, b, 1e-5), dtype, *TOL[dtype])


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(1, 1), (3, 7), (4, 384), (2, 896), (2, 4099)])
def test_add_rms_norm_returns_normed_and_sum(
    ctx: mt.Context, shape: tuple[int, ...], dtype: str, backend: str
) -> None:
    _force(ctx, "rms_norm", backend)
    x, r, w = (
        random_stored(shape, dtype, 6, scale=2.0),
        random_stored(shape, dtype, 7, scale=2.0),
        random_stored(shape[-1:], dtype, 8, scale=2.0),
    )
    normed, total = mt.ops.add_rms_norm(*(to_tensor(ctx, a, dtype) for a in (x, r, w)))
    h = as_stored(x + r, dtype).astype(np.float64)  # the sum is rounded to the storage type
    np.testing.assert_array_equal(read(total), h)
    assert_close(normed, _rms(h, w, 1e-6), dtype, *TOL[dtype])


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(1, 1), (3, 7), (4, 384), (2, 896), (2, 4099)])
def test_add_layer_norm_returns_normed_and_sum(
    ctx: mt.Context, shape: tuple[int, ...], dtype: str, backend: str
) -> None:
    _force(ctx, "layer_norm", backend)
    x, r = random_stored(shape, dtype, 9, scale=2.0), random_stored(shape, dtype, 10, scale=2.0)
    w, b = (
        random_stored(shape[-1:], dtype, 11, scale=2.0),
        random_stored(shape[-1:], dtype, 12, scale=2.0),
    )
    normed, total = mt.ops.add_layer_norm(*(to_tensor(ctx, a, dtype) for a in (x, r, w, b)))
    h = as_stored(x + r, dtype).astype(np.float64)
    np.testing.assert_array_equal(read(total), h)
    assert_close(normed, _layer(h, w, b, 1e-5), dtype, *TOL[dtype])


def test_auto_backend_with_the_reason(ctx: mt.Context, device: str) -> None:
    x = ctx.tensor(np.ones((2, 8), np.float32))
    w = ctx.tensor(np.ones(8, np.float32))
    ctx.backend_events(clear=True)
    mt.ops.rms_norm(x, w)
    mt.ops.add_layer_norm(x, x, w, w)
    (op1, b1, why1), (op2, b2, _) = ctx.backend_events()
    assert (op1, op2) == ("rms_norm", "layer_norm")
    expected = "row" if device == "host" else "threadgroup"
    assert b1 == b2 == expected
    assert ("plain loop" in why1) == (device == "host")


def test_default_eps_as_torch(ctx: mt.Context) -> None:
    """rms_norm's eps defaults to 1e-6 and layer_norm's to 1e-5: visible on a tiny-variance row."""
    x = np.full((1, 8), 1e-3, np.float64)
    x[0, ::2] = -1e-3
    w, b = np.ones(8), np.zeros(8)
    t = ctx.tensor(x.astype(np.float32))
    np.testing.assert_allclose(
        read(mt.ops.rms_norm(t, ctx.tensor(w.astype(np.float32)))), _rms(x, w, 1e-6), rtol=1e-5
    )
    out = mt.ops.layer_norm(t, ctx.tensor(w.astype(np.float32)), ctx.tensor(b.astype(np.float32)))
    np.testing.assert_allclose(read(out), _layer(x, w, b, 1e-5), rtol=1e-5)


def test_empty_and_unaligned(ctx: mt.Context) -> None:
    w = ctx.tensor(np.ones(8, np.float32))
    assert mt.ops.rms_norm(ctx.tensor(np.ones((0, 8), np.float32)), w).shape == (0, 8)
    empty = ctx.tensor(np.ones((3, 0), np.float32))
    assert mt.ops.rms_norm(empty, ctx.tensor(np.ones(0, np.float32))).shape == (3, 0)
    x = np.random.default_rng(13).standard_normal((4, 8))
    sliced = ctx.tensor(np.concatenate([[0.0], x.ravel()]).astype(np.float32))
    # A view that starts one float in: rows are not 16-byte aligned (the scalar path).
    unaligned = sliced.slice(1, 33).reshape([4, 8])
    np.testing.assert_allclose(read(mt.ops.rms_norm(unaligned, w)), _rms(x, 1.0, 1e-6), rtol=1e-5)


def test_bad_inputs(ctx: mt.Context) -> None:
    x = ctx.tensor(np.ones((2, 8), np.float32))
    w = ctx.tensor(np.ones(8, np.float32))
    with pytest.raises(
        mt.ShapeError, match=r"weight must be \[8\] \(x's last dimension\), got \[4\]"
    ):
        mt.ops.rms_norm(x, ctx.tensor(np.ones(4, np.float32)))
    with pytest.raises(mt.ShapeError, match=r"bias must be \[8\]"):
        mt.ops.layer_norm(x, w, ctx.tensor(np.ones((1, 8), np.float32)))
    with pytest.raises(mt.DTypeError, match="weight is f16 but the input is f32"):
        mt.ops.rms_norm(x, ctx.tensor(np.ones(8, np.float16)))
    with pytest.raises(mt.DTypeError, match="x must be f32, f16 or bf16, got i32"):
        mt.ops.rms_norm(ctx.tensor(np.ones((2, 8), np.int32)), w)
    with pytest.raises(mt.ShapeError, match="x must be contiguous"):
        mt.ops.layer_norm(ctx.tensor(np.ones((8, 8), np.float32)).T, w, w)
    with pytest.raises(mt.ShapeError, match=r"residual's shape \[1, 8\] must equal x's \[2, 8\]"):
        mt.ops.add_rms_norm(x, ctx.tensor(np.ones((1, 8), np.float32)), w)
    with pytest.raises(mt.DTypeError, match="residual is f16"):
        mt.ops.add_layer_norm(x, ctx.tensor(np.ones((2, 8), np.float16)), w, w)
    with pytest.raises(mt.ArgumentError, match="eps must be >= 0"):
        mt.ops.rms_norm(x, w, eps=-1.0)
    with pytest.raises(mt.ShapeError, match="at least one dimension"):
        mt.ops.rms_norm(ctx.tensor(np.float32(1.0)), ctx.tensor(np.ones(1, np.float32)))
