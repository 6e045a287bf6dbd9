"""softmax against numpy (float64): every backend forced in turn (vec, block, and row on the host
device) against the same reference, scale, causal (bottom-right aligned), additive masks, and the
backend events."""

from __future__ import annotations

import metallic as mt
import numpy as np
import pytest
from _float_ref import DTYPES, as_stored, assert_close, random_stored, read, to_tensor

BACKENDS = ["vec", "block", "row", "mpsgraph"]
VEC_MAX_ROW = 1024
# Row lengths around the vector width (4), one SIMD group's registers (1024), long rows.
SHAPES = [(1,), (7,), (3, 33), (2, 4, 128), (5, 1000), (2, 1024), (3, 1025), (2, 4099), (1, 16384)]
# Probabilities (<= 1) computed in float and rounded once.
TOL = {"f32": (1e-5, 1e-6), "f16": (2e-3, 1e-4), "bf16": (1.6e-2, 1e-3)}


def _softmax(
    x: np.ndarray, scale: float = 1.0, causal: bool = False, mask: np.ndarray | None = None
) -> np.ndarray:
    s = x * scale
    if mask is not None:
        s = s + mask
    if causal:
        lq, lk = s.shape[-2:]
        q, k = np.arange(lq)[:, None], np.arange(lk)[None, :]
        s = np.where(k <= q + lk - lq, s, -np.inf)
    m = s.max(axis=-1, keepdims=True)
    safe_m = np.where(np.isfinite(m), m, 0.0)
    e = np.exp(s - safe_m)
    total = e.sum(axis=-1, keepdims=True)
    return np.where(total > 0, e / np.where(total > 0, total, 1.0), 0.0)  # no key visible: 0


def _force(ctx: mt.Context, backend: str, row: int, dtype: str = "f32") -> None:
    if backend not in mt.backends(ctx)["softmax"]:
        pytest.skip(f"no {backend} backend on this device")
    if backend == "mpsgraph" and dtype == "bf16":
        pytest.skip("the softmax graph kernel takes f32 and f16")
    if backend == "vec" and row > VEC_MAX_ROW:
        pytest.skip("the vec backend holds rows of up to 1024")
    ctx.set_backend("softmax", backend)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
def test_rows(ctx: mt.Context, shape: tuple[int, ...], dtype: str, backend: str) -> None:
    _force(ctx, backend, shape[-1], dtype)
    x = random_stored(shape, dtype, 1, scale=3.0)
    out = mt.ops.softmax(to_tensor(ctx, x, dtype), scale=0.5)
    assert_close(out, _softmax(x, 0.5), dtype, *TOL[dtype])
    assert ctx.backend_events()[-1][:2] == ("softmax", backend)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(("lq", "lk"), [(1, 1), (5, 5), (3, 17), (1, 300), (6, 4), (7, 1030)])
def test_causal_is_bottom_right_aligned(ctx: mt.Context, lq: int, lk: int, backend: str) -> None:
    _force(ctx, backend, lk)
    x = random_stored((2, 3, lq, lk), "f32", 2, scale=3.0)
    out = mt.ops.softmax(ctx.tensor(x.astype(np.float32)), scale=0.125, causal=True)
    expected = _softmax(x, 0.125, causal=True)
    assert_close(out, expected, "f32", *TOL["f32"])
    if lq > lk:  # the first lq - lk queries see no key: their rows are 0
        assert not read(out)[..., : lq - lk, :].any()


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    ("x_shape", "mask_shape"),
    [
        ((2, 3, 4, 9), (4, 9)),  # [Lq, Lk] over [B, H, Lq, Lk]
        ((2, 3, 4, 12), (2, 1, 1, 12)),  # a padding mask per batch entry
        ((2, 3, 4, 12), (1, 3, 4, 12)),
        ((5, 40), (5, 40)),
        ((5, 40), (40,)),
        ((3, 1100), (1, 1100)),
    ],
)
def test_additive_mask_after_scale(
    ctx: mt.Context,
    x_shape: tuple[int, ...],
    mask_shape: tuple[int, ...],
    dtype: str,
    backend: str,
) -> None:
    _force(ctx, backend, x_shape[-1], dtype)
    x = random_stored(x_shape, dtype, 3, scale=3.0)
    rng = np.random.default_rng(4)
    mask = np.where(rng.random(mask_shape) < 0.3, -np.inf, rng.standard_normal(mask_shape))
    mask[..., 0] = 0.0  # every row keeps a visible key
    mask = as_stored(mask, dtype).astype(np.float64)
    out = mt.ops.softmax(to_tensor(ctx, x, dtype), scale=0.25, mask=to_tensor(ctx, mask, dtype))
    assert_close(out, _softmax(x, 0.25, mask=mask), dtype, *TOL[dtype])


@pytest.mark.parametrize("backend", BACKENDS)
def test_causal_and_mask_together_and_fully_masked_rows(ctx: mt.Context, backend: str) -> None:
    _force(ctx, backend, 6)
    x = random_stored((2, 4, 6), "f32", 5, scale=3.0)
    mask = np.zeros((4, 6))
    mask[1] = -np.inf  # query 1 sees nothing
    out = mt.ops.softmax(
        ctx.tensor(x.astype(np.float32)), causal=True, mask=ctx.tensor(mask.astype(np.float32))
    )
    assert_close(out, _softmax(x, causal=True, mask=mask), "f32", *TOL["f32"])
    assert not read(out)[:, 1].any()


def test_large_scores_do_not_overflow(ctx: mt.Context) -> None:
    for backend in mt.backends(ctx)["softmax"]:
        ctx.set_backend("softmax", backend)
        x = np.array([[1e4, 1e4 - 1.0, -1e4, 0.0] * 100], np.float32)
        assert_close(
            mt.ops.softmax(ctx.tensor(x)), _softmax(x.astype(np.float64)), "f32", *TOL["f32"]
        )


def test_empty(ctx: mt.Context) -> None:
    assert mt.ops.softmax(ctx.tensor(np.ones((0, 5), np.float32))).shape == (0, 5)
    assert mt.ops.softmax(ctx.tensor(np.ones((3, 0), np.float32))).shape == (3, 0)


def test_auto_backend_with_the_reason(ctx: mt.Context, device: str) -> None:
    """auto: row on the host device (a plain loop there); on a GPU vec up to 1024, block above."""
    ctx.backend_events(clear=True)
    mt.ops.softmax(ctx.tensor(np.ones((2, 1024), np.float32)))
    mt.ops.softmax(ctx.tensor(np.ones((2, 1025), np.float32)))
    (op1, b1, why1), (op2, b2, why2) = ctx.backend_events()
    assert op1 == op2 == "softmax"
    if device == "host":
        assert mt.backends(ctx)["softmax"] == ["vec", "block", "row", "mpsgraph"]
        assert b1 == b2 == "row"
        assert "plain loop" in why1
    else:
        assert mt.backends(ctx)["softmax"] == ["vec", "block", "mpsgraph"]
        assert (b1, b2) == ("vec", "block")
        assert "1024 <= 1024" in why1 and "1025 > 1024" in why2


@pytest.mark.parametrize("variable", ["METALLIC_SOFTMAX_BACKEND", "METALLIC_FORCE_SOFTMAX_BACKEND"])
def test_environment_forces_a_backend(
    device: str, monkeypatch: pytest.MonkeyPatch, variable: str
) -> None:
    monkeypatch.setenv(variable, "block")
    ctx = mt.Context(device=device)
    x = random_stored((3, 10), "f32", 6, scale=3.0)
    assert_close(mt.ops.softmax(ctx.tensor(x.astype(np.float32))), _softmax(x), "f32", *TOL["f32"])
    [(op, backend, reason)] = ctx.backend_events()
    assert (op, backend) == ("softmax", "block")
    assert variable in reason


def test_bad_inputs(ctx: mt.Context) -> None:
    x = ctx.tensor(np.ones((2, 3, 4), np.float32))
    with pytest.raises(mt.ShapeError, match=r"mask of shape \[3, 5\] does not broadcast"):
        mt.ops.softmax(x, mask=ctx.tensor(np.ones((3, 5), np.float32)))
    with pytest.raises(mt.ShapeError, match="does not broadcast"):
        mt.ops.softmax(x, mask=ctx.tensor(np.ones((2, 2, 4), np.float32)))
    with pytest.raises(mt.ShapeError, match="does not broadcast"):
        mt.ops.softmax(x, mask=ctx.tensor(np.ones((1, 2, 3, 4), np.float32)))
    with pytest.raises(mt.DTypeError, match="mask is f16 but the input is f32"):
        mt.ops.softmax(x, mask=ctx.tensor(np.ones(4, np.float16)))
    with pytest.raises(mt.ShapeError, match="causal needs x of shape"):
        mt.ops.softmax(ctx.tensor(np.ones(4, np.float32)), causal=True)
    with pytest.raises(mt.ShapeError, match="at most 4 dimensions"):
        mt.ops.softmax(
            ctx.tensor(np.ones((1, 1, 1, 1, 4), np.float32)),
            mask=ctx.tensor(np.ones(4, np.float32)),
        )
    with pytest.raises(mt.DTypeError, match="x must be f32, f16 or bf16"):
        mt.ops.softmax(ctx.tensor(np.ones(4, np.int32)))
    with pytest.raises(mt.ShapeError, match="x must be contiguous"):
        mt.ops.softmax(x.swapaxes(1, 2))
    ctx.set_backend("softmax", "vec")
    with pytest.raises(mt.ArgumentError, match="vec backend handles rows of up to 1024"):
        mt.ops.softmax(ctx.tensor(np.ones((1, 1025), np.float32)))
    with pytest.raises(mt.ArgumentError, match="block"):
        ctx.set_backend("softmax", "fast")
