"""Q8_0 / Q4_0: quantize against a numpy transcription of ggml's reference rounding (byte for
byte), and the GEMV kernels (matmul with a quantized weight, matmul_q8_gemv) against numpy math
on the dequantized weights."""

from __future__ import annotations

import metallic as mt
import numpy as np
import pytest

BLOCK_BYTES = {"q8_0": 34, "q4_0": 18}


def quantize_q8_0(w: np.ndarray) -> np.ndarray:
    """ggml's quantize_row_q8_0 reference: d = max|x| / 127, q = round(x / d), halves away
    from zero; returns the blocks' bytes [..., K / 32 * 34]."""
    x = w.astype(np.float32).reshape(-1, 32)
    d = (np.abs(x).max(axis=1) / np.float32(127)).astype(np.float32)
    inv = np.where(d != 0, np.float32(1) / np.where(d != 0, d, 1), 0).astype(np.float32)
    v = (x * inv[:, None]).astype(np.float64)  # the float32 product, rounded exactly below
    q = (np.sign(v) * np.floor(np.abs(v) + 0.5)).astype(np.int8)
    blocks = np.concatenate(
        [d.astype(np.float16).view(np.uint8).reshape(-1, 2), q.view(np.uint8)], 1
    )
    return blocks.reshape(*w.shape[:-1], -1)


def quantize_q4_0(w: np.ndarray) -> np.ndarray:
    """ggml's quantize_row_q4_0 reference: d = (the element of largest magnitude) / -8,
    q = min(15, trunc(x / d + 8.5)); element j in the low nibble of byte j, j + 16 in its high."""
    x = w.astype(np.float32).reshape(-1, 32)
    extreme = x[np.arange(len(x)), np.abs(x).argmax(axis=1)]
    d = (extreme / np.float32(-8)).astype(np.float32)
    inv = np.where(d != 0, np.float32(1) / np.where(d != 0, d, 1), 0).astype(np.float32)
    shifted = ((x * inv[:, None]).astype(np.float32) + np.float32(8.5)).astype(np.float32)
    q = np.minimum(15, np.trunc(shifted)).astype(np.uint8)
    packed = q[:, :16] | (q[:, 16:] << 4)
    blocks = np.concatenate([d.astype(np.float16).view(np.uint8).reshape(-1, 2), packed], 1)
    return blocks.reshape(*w.shape[:-1], -1)


def dequantize(blocks: np.ndarray, fmt: str) -> np.ndarray:
    """The weights [N, K] that GGUF blocks [N, K / 32 * bytes] stand for, in float64."""
    b = blocks.reshape(-1, BLOCK_BYTES[fmt])
    d = b[:, :2].copy().view(np.float16).astype(np.float64)
    if fmt == "q8_0":
        q = b[:, 2:].view(np.int8).astype(np.float64)
    else:
        nib = b[:, 2:]
        q = np.concatenate([nib & 15, nib >> 4], 1).astype(np.float64) - 8
    return (d * q).reshape(blocks.shape[0], -1)


REFERENCE = {"q8_0": quantize_q8_0, "q4_0": quantize_q4_0}


def weights(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    w = rng.standard_normal(shape).astype(np.float32)
    w[..., :32] *= 10.0  # blocks of different scales
    if w.size >= 64:
        w.reshape(-1, 32)[1] = 0.0  # an all-zero block: d = 0
    return w


@pytest.mark.parametrize("fmt", ["q8_0", "q4_0"])
@pytest.mark.parametrize("shape", [(32,), (5, 64), (2, 3, 96)])
def test_quantize_matches_ggml_rounding(ctx: mt.Context, fmt: str, shape: tuple[int, ...]) -> None:
    w = weights(np.random.default_rng(1), shape)
    q = mt.ops.quantize(ctx.tensor(w), fmt)
    assert q.dtype == fmt and q.shape == shape
    assert q.nbytes == w.size // 32 * BLOCK_BYTES[fmt]
    got = q.numpy()
    assert got.dtype == np.uint8
    np.testing.assert_array_equal(got, REFERENCE[fmt](w))


@pytest.mark.parametrize("dtype", ["f16", "bf16"])
def test_quantize_from_16_bit_input(ctx: mt.Context, dtype: str) -> None:
    w = weights(np.random.default_rng(2), (3, 64))
    t = ctx.tensor(w, dtype=dtype)
    np.testing.assert_array_equal(
        mt.ops.quantize(t, "q8_0").numpy(), quantize_q8_0(t.numpy().astype(np.float32))
    )


# Tolerances against float64 math on the dequantized weights: f32 activations accumulate in f32;
# f16 activations are rounded (the reference uses the same rounded values) and so is the output.
TOLERANCE = {"f32": 1e-4, "f16": 3e-3}


@pytest.mark.parametrize("fmt", ["q8_0", "q4_0"])
@pytest.mark.parametrize("dtype", ["f32", "f16"])
@pytest.mark.parametrize(("m", "n", "k"), [(1, 37, 32), (3, 16, 96), (8, 5, 64), (11, 9, 160)])
def test_matmul_with_quantized_weight(
    ctx: mt.Context, fmt: str, dtype: str, m: int, n: int, k: int
) -> None:
    rng = np.random.default_rng(m * 100 + n)
    w = weights(rng, (n, k))
    x = rng.standard_normal((m, k)).astype(np.float16 if dtype == "f16" else np.float32)
    wq = mt.ops.quantize(ctx.tensor(w), fmt)
    out = mt.ops.matmul(ctx.tensor(x), wq, transpose_b=True)
    assert out.shape == (m, n) and out.dtype == dtype
    expected = x.astype(np.float64) @ dequantize(wq.numpy(), fmt).T
    tol = TOLERANCE[dtype] * np.sqrt(k) * np.abs(w).max()
    np.testing.assert_allclose(
        out.numpy().astype(np.float64), expected, rtol=TOLERANCE[dtype], atol=tol
    )
    assert ctx.backend_events()[-1] == ("matmul", "msl", f"auto: {fmt} weight (GEMV)")


def test_batched_activations_and_alpha(ctx: mt.Context) -> None:
    rng = np.random.default_rng(9)
    w = weights(rng, (7, 64))
    x = rng.standard_normal((2, 3, 64)).astype(np.float32)
    wq = mt.ops.quantize(ctx.tensor(w), "q8_0")
    out = mt.ops.matmul_q8_gemv(ctx.tensor(x), wq, alpha=0.5)
    assert out.shape == (2, 3, 7)
    expected = 0.5 * x.astype(np.float64) @ dequantize(wq.numpy(), "q8_0").T
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize("transpose_b", [True, False])
@pytest.mark.parametrize("dtype", ["f32", "f16", "bf16"])
def test_dense_gemv(ctx: mt.Context, transpose_b: bool, dtype: str) -> None:
    rng = np.random.default_rng(10)
    x = rng.standard_normal((3, 45)).astype(np.float32)
    w = rng.standard_normal((19, 45) if transpose_b else (45, 19)).astype(np.float32)
    xt, wt = ctx.tensor(x, dtype=dtype), ctx.tensor(w, dtype=dtype)
    out = mt.ops.matmul_q8_gemv(xt, wt, transpose_b=transpose_b)
    x64, w64 = xt.numpy().astype(np.float64), wt.numpy().astype(np.float64)
    expected = x64 @ (w64.T if transpose_b else w64)
    tol = {"f32": 1e-5, "f16": 2e-3, "bf16": 1.6e-2}[dtype] * np.sqrt(45)
    np.testing.assert_allclose(out.numpy().astype(np.float64), expected, rtol=tol, atol=tol)


@pytest.mark.parametrize("fmt", ["q8_0", "q4_0"])
def test_tensor_from_gguf_bytes(ctx: mt.Context, fmt: str) -> None:
    rng = np.random.default_rng(11)
    w = weights(rng, (6, 64))
    blocks = REFERENCE[fmt](w)  # the bytes a GGUF file holds for this tensor
    wq = ctx.tensor_from_bytes(blocks, dtype=fmt, shape=(6, 64))
    assert wq.dtype == fmt and wq.shape == (6, 64)
    np.testing.assert_array_equal(wq.numpy(), blocks)
    x = rng.standard_normal((2, 64)).astype(np.float32)
    out = mt.ops.matmul(ctx.tensor(x), wq, transpose_b=True)
    np.testing.assert_allclose(
        out.numpy(), x.astype(np.float64) @ dequantize(blocks, fmt).T, rtol=1e-4, atol=1e-3
    )
    raw = ctx.tensor_from_bytes(bytes(blocks.tobytes()), dtype=fmt, shape=(6, 64))
    np.testing.assert_array_equal(raw.numpy(), blocks)


def test_tensor_from_bytes_does_not_copy_on_host() -> None:
    ctx = mt.Context(device="host")
    blocks = quantize_q8_0(np.ones((2, 32), np.float32))
    wq = ctx.tensor_from_bytes(blocks, dtype="q8_0", shape=(2, 32))
    blocks[1, 2:] = 0  # the tensor sees the buffer's bytes, not a copy of them
    np.testing.assert_array_equal(wq.numpy()[1, 2:], np.zeros(32, np.uint8))


def test_bad_input(ctx: mt.Context) -> None:
    w = ctx.tensor(np.ones((4, 64), np.float32))
    wq = mt.ops.quantize(w, "q8_0")
    x = ctx.tensor(np.ones((2, 64), np.float32))
    with pytest.raises(mt.ShapeError, match="multiple of 32"):
        mt.ops.quantize(ctx.tensor(np.ones((4, 40), np.float32)), "q8_0")
    with pytest.raises(mt.DTypeError, match="f32, f16 or bf16"):
        mt.ops.quantize(ctx.tensor(np.ones((4, 32), np.int32)), "q8_0")
    with pytest.raises(mt.ArgumentError):
        mt.ops.quantize(w, "q5_k")  # type: ignore[arg-type]
    with pytest.raises(mt.ArgumentError, match="transpose_b=True"):
        mt.ops.matmul(x, wq)
    with pytest.raises(mt.ArgumentError, match="transpose_b=True"):
        mt.ops.matmul_q8_gemv(x, wq, transpose_b=False)
    with pytest.raises(mt.ShapeError, match="inner dimensions differ"):
        mt.ops.matmul(ctx.tensor(np.ones((2, 32), np.float32)), wq, transpose_b=True)
    with pytest.raises(mt.DTypeError, match="supported: f32, f16"):
        mt.ops.matmul(ctx.tensor(np.ones((2, 64), np.float32), dtype="bf16"), wq, transpose_b=True)
    with pytest.raises(mt.ShapeError, match="multiple of 32"):
        ctx.tensor_from_bytes(bytes(34), dtype="q8_0", shape=(1, 16))
    with pytest.raises(mt.ShapeError, match="needs 68 bytes"):
        ctx.tensor_from_bytes(bytes(34), dtype="q8_0", shape=(1, 64))
    with pytest.raises(mt.DTypeError, match="quantize"):
        ctx.tensor(np.ones((2, 32), np.float32), dtype="q8_0")
    with pytest.raises(mt.ShapeError, match="multiple of 32"):
        wq.reshape((8, 32)).reshape((16, 16))
    other = "blas" if ctx.device == "host" else "mps"
    ctx.set_backend("matmul", other)
    with pytest.raises(mt.ArgumentError, match="use the msl backend"):
        mt.ops.matmul(x, wq, transpose_b=True)
