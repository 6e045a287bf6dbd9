"""mps_matmul (MPSMatrixMultiplication on Metal, the reference GEMM on the host) against numpy."""

from __future__ import annotations

import metallic as mt
import numpy as np
import pytest

CASES = [
    # (a shape, b shape, transpose_a, transpose_b)
    ((1, 1), (1, 1), False, False),
    ((7, 13), (13, 5), False, False),
    ((33, 64), (64, 257), False, False),
    ((3, 17, 9), (9, 11), False, False),  # batched a, shared 2-d b
    ((2, 5, 8), (2, 8, 3), False, False),  # batched both
    ((13, 7), (13, 5), True, False),
    ((7, 13), (5, 13), False, True),
    ((2, 13, 7), (2, 5, 13), True, True),
]


@pytest.mark.mps
@pytest.mark.parametrize(("a_shape", "b_shape", "ta", "tb"), CASES)
@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_matches_numpy(
    ctx: mt.Context,
    a_shape: tuple[int, ...],
    b_shape: tuple[int, ...],
    ta: bool,
    tb: bool,
    dtype: type,
) -> None:
    rng = np.random.default_rng(1)
    a = rng.standard_normal(a_shape).astype(dtype)
    b = rng.standard_normal(b_shape).astype(dtype)
    out = mt.ops.mps_matmul(ctx.tensor(a), ctx.tensor(b), transpose_a=ta, transpose_b=tb, alpha=0.5)
    a64 = np.swapaxes(a, -1, -2) if ta else a
    b64 = np.swapaxes(b, -1, -2) if tb else b
    expected = 0.5 * np.matmul(a64.astype(np.float64), b64.astype(np.float64))
    assert out.shape == expected.shape
    tol = 1e-5 if dtype == np.float32 else 2e-2
    np.testing.assert_allclose(out.numpy().astype(np.float64), expected, rtol=tol, atol=tol)


def test_bad_input(ctx: mt.Context) -> None:
    a = ctx.tensor(np.ones((4, 5), np.float32))
    with pytest.raises(mt.ShapeError, match="inner dimensions differ"):
        mt.ops.mps_matmul(a, a)
    with pytest.raises(mt.ShapeError, match="at least 2 dimensions"):
        mt.ops.mps_matmul(a, ctx.tensor(np.ones(5, np.float32)))
    with pytest.raises(mt.DTypeError, match="dtypes differ"):
        mt.ops.mps_matmul(a, ctx.tensor(np.ones((5, 2), np.float16)))
    with pytest.raises(mt.ShapeError, match="contiguous"):
        mt.ops.mps_matmul(a.T, a)
    with pytest.raises(mt.ShapeError, match="batch dimensions"):
        mt.ops.mps_matmul(
            ctx.tensor(np.ones((2, 4, 5), np.float32)), ctx.tensor(np.ones((3, 5, 2), np.float32))
        )


def test_device_without_mps_raises(ctx: mt.Context) -> None:
    """Where MPS is missing (a virtual machine's GPU) the op fails loudly, never leaving C as
    it was."""
    if ctx.device_info().get("mps") != "no":
        pytest.skip("only on a Metal device without MPS")
    a = ctx.tensor(np.ones((4, 4), np.float32))
    with pytest.raises(mt.DeviceError, match="does not support Metal Performance Shaders"):
        mt.ops.mps_matmul(a, a).numpy()
