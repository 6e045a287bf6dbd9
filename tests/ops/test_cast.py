"""astype between every pair of f32, f16, bf16, i32, u32, i8, u8 (metal/copy's converting
kernels) against numpy's astype(casting="unsafe"), and the documented float -> integer rule for
NaN and out-of-range values (numpy leaves those undefined)."""

from __future__ import annotations

import warnings

import metallic as mt
import numpy as np
import pytest
from layout_refs import DTYPES, NUMPY, bf16_round, sample

INT_RANGE = {"i32": (-(2**31), 2**31 - 1), "u32": (0, 2**32 - 1), "i8": (-128, 127), "u8": (0, 255)}


def _reference(x: np.ndarray, dst: str) -> np.ndarray:
    """numpy's astype, with bf16 as float32 rounded to bfloat16."""
    if dst == "bf16":
        return bf16_round(x.astype(np.float32))
    return x.astype(NUMPY[dst])


def _source(rng: np.random.Generator, shape: tuple[int, ...], src: str, signed: bool) -> np.ndarray:
    """Values every dtype can hold after truncation: [0, 100) or [-100, 100), with fractions for
    float sources."""
    if src in ("f32", "f16", "bf16"):
        x = rng.uniform(-100 if signed else 0, 100, shape).astype(np.float32)
        return bf16_round(x) if src == "bf16" else x.astype(NUMPY[src])
    return sample(rng, shape, src) if signed else np.abs(sample(rng, shape, src))


@pytest.mark.parametrize("dst", DTYPES)
@pytest.mark.parametrize("src", DTYPES)
def test_every_pair(ctx: mt.Context, src: str, dst: str) -> None:
    rng = np.random.default_rng(4)
    signed = not (src.startswith("u") or dst.startswith("u"))
    for shape in [(1,), (7,), (1027,), (3, 65), (0, 3)]:
        x = _source(rng, shape, src, signed)
        out = mt.ops.astype(ctx.tensor(x, dtype=src), dst)
        assert out.dtype == dst and out.shape == shape
        np.testing.assert_array_equal(out.numpy(), _reference(x, dst))


@pytest.mark.parametrize("src", ["f32", "f16", "bf16"])
@pytest.mark.parametrize("dst", ["i32", "u32", "i8", "u8"])
def test_float_to_int_nan_and_out_of_range(ctx: mt.Context, src: str, dst: str) -> None:
    values = [np.nan, np.inf, -np.inf, 1e10, -1e10, 2.0**31, -(2.0**31) - 1e3, 300.0, -300.0]
    values += [127.9, -128.9, 255.5, 256.0, -0.7, 0.7, 3.5, -3.5, 0.0]
    x = np.array(values, np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # f16 overflows to inf, as intended
        x = bf16_round(x) if src == "bf16" else x.astype(NUMPY[src])
    out = mt.ops.astype(ctx.tensor(x, dtype=src), dst).numpy()
    # The rule (docs/ops.md): truncate toward zero, NaN -> 0, saturate to the target's range.
    lo, hi = INT_RANGE[dst]
    xf = x.astype(np.float64)
    expected = np.where(np.isnan(xf), 0, np.clip(np.trunc(np.nan_to_num(xf)), lo, hi))
    np.testing.assert_array_equal(out, expected.astype(NUMPY[dst]))


def test_float_narrowing_rounds_to_nearest_even(ctx: mt.Context) -> None:
    halfway = [1 + 2.0**-11, 1 + 3 * 2.0**-11, -(1 + 2.0**-11), 2.0**-24 * 1.5, 65520.0, 70000.0]
    x = np.array(halfway + [0.1, -2.5e-8, 1e-30, np.inf, np.nan], np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # numpy warns on the overflow to inf
        expected16 = x.astype(np.float16)
    np.testing.assert_array_equal(mt.ops.astype(ctx.tensor(x), "f16").numpy(), expected16)
    assert expected16[0] == 1 and expected16[1] == 1 + 2.0**-9  # ties went to even
    b = np.array([1 + 2.0**-8, 1 + 3 * 2.0**-8, 3.0e38, -1 - 2.0**-8], np.float32)
    out = mt.ops.astype(ctx.tensor(b), "bf16").numpy()
    np.testing.assert_array_equal(out[[0, 1, 3]], np.array([1, 1 + 2.0**-6, -1], np.float32))
    np.testing.assert_array_equal(out, bf16_round(b))
    h = np.array([1 + 2.0**-10, 65504.0, 2.0**-24], np.float16)  # f16 -> bf16 rounds too
    np.testing.assert_array_equal(
        mt.ops.astype(ctx.tensor(h), "bf16").numpy(), bf16_round(h.astype(np.float32))
    )


def test_integer_wraparound_and_int_to_float(ctx: mt.Context) -> None:
    i = np.array([300, -1, -129, 2**31 - 1, -(2**31), 2**24 + 1, 70000], np.int32)
    u = np.array([2**32 - 1, 2**31, 255, 2**24 + 1], np.uint32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for x, src in ((i, "i32"), (u, "u32")):
            for dst in ("i32", "u32", "i8", "u8", "f32", "f16"):
                out = mt.ops.astype(ctx.tensor(x, dtype=src), dst).numpy()
                np.testing.assert_array_equal(out, x.astype(NUMPY[dst]), err_msg=f"{src}->{dst}")


def test_strided_source_and_method(ctx: mt.Context) -> None:
    x = np.random.default_rng(5).standard_normal((33, 17)).astype(np.float32)
    t = ctx.tensor(x)
    np.testing.assert_array_equal(t.T.astype("f16").numpy(), x.T.astype(np.float16))
    np.testing.assert_array_equal(t.astype(np.int32).numpy(), x.astype(np.int32))
    assert t.astype("f32").is_contiguous()


def test_cast_errors(ctx: mt.Context) -> None:
    t = ctx.tensor(np.zeros(3, np.float32))
    with pytest.raises(mt.DTypeError, match="the target dtype is i64"):
        mt.ops.astype(t, "i64")
    with pytest.raises(mt.DTypeError, match="x is i64"):
        mt.ops.astype(ctx.tensor(np.zeros(3, np.int64)), "f32")
    with pytest.raises(mt.DTypeError, match="unknown dtype"):
        mt.ops.astype(t, "f8")
    with pytest.raises(mt.ArgumentError, match="argument"):
        mt.ops.astype(t)  # type: ignore[call-arg]
