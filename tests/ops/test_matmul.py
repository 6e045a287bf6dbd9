"""matmul against numpy (float64 on the same rounded inputs), with every backend forced: the MSL
GEMM/GEMV kernels, MPS (Metal) and the vendor BLAS (host device)."""

from __future__ import annotations

import metallic as mt
import numpy as np
import pytest
from _refs import bf16 as bf16_round

DTYPES = ["f32", "f16", "bf16"]
# Relative to sqrt(K) * |a| * |b| (entries ~ N(0, 1)): f32 accumulates in f32; f16/bf16 round
# the inputs (the reference rounds them too) and the output.
TOLERANCE = {"f32": 2e-5, "f16": 2e-3, "bf16": 1.6e-2}

CASES = [
    # (a shape, b shape, transpose_a, transpose_b)
    ((1, 1), (1, 1), False, False),
    ((1, 37), (37, 13), False, False),  # M = 1: the GEMV
    ((5, 40), (29, 40), False, True),  # M <= 8, b stored N x K
    ((2, 3, 33), (33, 7), False, False),  # 6 rows of a batch over one b: one GEMV
    ((33, 47), (47, 65), False, False),  # odd sizes past one 32 x 32 tile
    ((13, 7), (13, 9), True, False),
    ((9, 70), (11, 70), False, True),
    ((2, 19, 12), (2, 10, 19), True, True),
    ((3, 17, 9), (9, 11), False, False),  # batched a, shared 2-d b
    ((9, 10), (4, 10, 3), False, False),  # shared a, batched b
    ((2, 3, 9, 8), (3, 8, 5), False, False),  # b's batch a suffix of a's
    ((1, 9, 8), (2, 8, 5), False, False),  # a broadcast over b's batch
    # N > M: the host BLAS splits the columns (M = 1: as mat-vecs)
    ((1, 24), (24, 67), False, False),
    ((24, 1), (70, 24), True, True),
    ((3, 24), (70, 24), False, True),
]


def operand(rng: np.random.Generator, shape: tuple[int, ...], dtype: str) -> np.ndarray:
    """Random values representable in `dtype` (float32, or float16 for f16)."""
    x = rng.standard_normal(shape).astype(np.float32)
    if dtype == "f16":
        return x.astype(np.float16)
    return bf16_round(x) if dtype == "bf16" else x


def reference(
    a: np.ndarray,
    b: np.ndarray,
    ta: bool,
    tb: bool,
    alpha: float = 1.0,
    beta: float = 0.0,
    c: np.ndarray | None = None,
) -> np.ndarray:
    a64 = np.swapaxes(a, -1, -2) if ta else a
    b64 = np.swapaxes(b, -1, -2) if tb else b
    out = alpha * np.matmul(a64.astype(np.float64), b64.astype(np.float64))
    return out + beta * c.astype(np.float64) if c is not None else out


def check(out: mt.Tensor, expected: np.ndarray, dtype: str, k: int) -> None:
    assert out.shape == expected.shape
    assert out.dtype == dtype
    tol = TOLERANCE[dtype] * max(1.0, np.sqrt(k))
    np.testing.assert_allclose(out.numpy().astype(np.float64), expected, rtol=tol, atol=tol)


def use_backend(ctx: mt.Context, backend: str, dtype: str = "f32") -> None:
    if backend not in mt.backends(ctx)["matmul"]:
        pytest.skip(f"backend {backend} is not available on {ctx.device}")
    if backend in ("mps", "mpsgraph") and dtype == "bf16":
        pytest.skip(f"the {backend} matmul takes f32 and f16")
    ctx.set_backend("matmul", backend)


@pytest.mark.parametrize("backend", ["msl", "mps", "blas", "mpsgraph"])
@pytest.mark.parametrize(("a_shape", "b_shape", "ta", "tb"), CASES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_matches_numpy(
    ctx: mt.Context,
    backend: str,
    a_shape: tuple[int, ...],
    b_shape: tuple[int, ...],
    ta: bool,
    tb: bool,
    dtype: str,
) -> None:
    use_backend(ctx, backend, dtype)
    rng = np.random.default_rng(7)
    a = operand(rng, a_shape, dtype)
    b = operand(rng, b_shape, dtype)
    out = mt.ops.matmul(
        ctx.tensor(a, dtype=dtype), ctx.tensor(b, dtype=dtype), transpose_a=ta, transpose_b=tb
    )
    check(out, reference(a, b, ta, tb), dtype, a_shape[-2] if ta else a_shape[-1])
    assert ctx.backend_events()[-1] == ("matmul", backend, "forced on this context")


@pytest.mark.parametrize("backend", ["msl", "mps", "blas", "mpsgraph"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_alpha(ctx: mt.Context, backend: str, dtype: str) -> None:
    use_backend(ctx, backend, dtype)
    rng = np.random.default_rng(3)
    for m in (1, 20):  # GEMV and GEMM
        a, b = operand(rng, (m, 24), dtype), operand(rng, (24, 6), dtype)
        out = mt.ops.matmul(ctx.tensor(a, dtype=dtype), ctx.tensor(b, dtype=dtype), alpha=-0.5)
        check(out, reference(a, b, False, False, alpha=-0.5), dtype, 24)


@pytest.mark.parametrize("dtype", DTYPES)
def test_beta_adds_c(ctx: mt.Context, dtype: str) -> None:
    rng = np.random.default_rng(4)
    a, b, c = (
        operand(rng, (2, 9, 12), dtype),
        operand(rng, (12, 35), dtype),
        operand(rng, (2, 9, 35), dtype),
    )
    out = mt.ops.matmul(
        ctx.tensor(a, dtype=dtype),
        ctx.tensor(b, dtype=dtype),
        alpha=2.0,
        beta=0.25,
        c=ctx.tensor(c, dtype=dtype),
    )
    check(out, reference(a, b, False, False, 2.0, 0.25, c), dtype, 12)
    assert ctx.backend_events()[-1][1:] == ("msl", "auto: beta != 0 (the MSL kernels read c)")


@pytest.mark.parametrize("backend", ["msl", "mps", "blas", "mpsgraph"])
def test_empty(ctx: mt.Context, backend: str) -> None:
    use_backend(ctx, backend)
    f = np.float32
    assert mt.ops.matmul(ctx.tensor(np.ones((0, 4), f)), ctx.tensor(np.ones((4, 3), f))).shape == (
        0,
        3,
    )
    assert mt.ops.matmul(ctx.tensor(np.ones((2, 4), f)), ctx.tensor(np.ones((4, 0), f))).shape == (
        2,
        0,
    )
    for m in (1, 12):  # K = 0: a sum of nothing
        out = mt.ops.matmul(ctx.tensor(np.ones((m, 0), f)), ctx.tensor(np.ones((0, 3), f)))
        np.testing.assert_array_equal(out.numpy(), np.zeros((m, 3), f))


def test_auto_choice(ctx: mt.Context) -> None:
    a = ctx.tensor(np.ones((4, 8), np.float32))
    b = ctx.tensor(np.ones((8, 2), np.float32))
    mt.ops.matmul(a, b)
    op, backend, reason = ctx.backend_events()[-1]
    assert op == "matmul" and reason.startswith("auto: ")
    assert backend == ("blas" if ctx.device == "host" else "msl")
    assert set(mt.backends(ctx)["matmul"]) >= {"msl"}


def test_environment_forces_backend(device: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("METALLIC_MATMUL_BACKEND", "msl")
    ctx = mt.Context(device=device)
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    out = mt.ops.matmul(ctx.tensor(a), ctx.tensor(a.T.copy()))
    np.testing.assert_allclose(out.numpy(), a @ a.T)
    assert ctx.backend_events()[-1] == ("matmul", "msl", "forced by METALLIC_MATMUL_BACKEND")


def test_matmul_operator(ctx: mt.Context) -> None:
    rng = np.random.default_rng(5)
    a = rng.standard_normal((3, 5, 6)).astype(np.float32)
    b = rng.standard_normal((6, 4)).astype(np.float32)
    out = ctx.tensor(a) @ ctx.tensor(b)
    np.testing.assert_allclose(out.numpy(), a @ b, rtol=1e-5, atol=1e-5)
    with pytest.raises(TypeError):
        ctx.tensor(a) @ 2.0  # type: ignore[operator]


def test_bad_input(ctx: mt.Context) -> None:
    a = ctx.tensor(np.ones((4, 5), np.float32))
    b = ctx.tensor(np.ones((5, 3), np.float32))
    with pytest.raises(mt.ShapeError, match="inner dimensions differ"):
        mt.ops.matmul(a, a)
    with pytest.raises(mt.ShapeError, match="at least 2 dimensions"):
        mt.ops.matmul(a, ctx.tensor(np.ones(5, np.float32)))
    with pytest.raises(mt.DTypeError, match="dtypes differ"):
        mt.ops.matmul(a, ctx.tensor(np.ones((5, 2), np.float16)))
    with pytest.raises(mt.DTypeError, match="f32, f16 or bf16"):
        mt.ops.matmul(ctx.tensor(np.ones((4, 5), np.int32)), ctx.tensor(np.ones((5, 2), np.int32)))
    with pytest.raises(mt.ShapeError, match="contiguous"):
        mt.ops.matmul(a.T, a)
    with pytest.raises(mt.ShapeError, match="do not broadcast"):
        mt.ops.matmul(
            ctx.tensor(np.ones((2, 4, 5), np.float32)), ctx.tensor(np.ones((3, 5, 2), np.float32))
        )
    with pytest.raises(mt.ShapeError, match="do not broadcast"):  # would need per-dim strides
        mt.ops.matmul(
            ctx.tensor(np.ones((2, 1, 4, 5), np.float32)),
            ctx.tensor(np.ones((1, 3, 5, 2), np.float32)),
        )
    with pytest.raises(mt.ArgumentError, match="needs c"):
        mt.ops.matmul(a, b, beta=1.0)
    with pytest.raises(mt.ArgumentError, match="beta is 0"):
        mt.ops.matmul(a, b, c=ctx.tensor(np.ones((4, 3), np.float32)))
    with pytest.raises(mt.ShapeError, match=r"output's shape \[4, 3\]"):
        mt.ops.matmul(a, b, beta=1.0, c=ctx.tensor(np.ones((4, 2), np.float32)))
    with pytest.raises(mt.ArgumentError, match="msl"):
        ctx.set_backend("matmul", "cuda")
    other = "blas" if ctx.device == "host" else "mps"
    ctx.set_backend("matmul", other)
    with pytest.raises(mt.ArgumentError, match="use the msl backend"):
        mt.ops.matmul(a, b, beta=1.0, c=ctx.tensor(np.ones((4, 3), np.float32)))
