"""numpy references shared by the layout and creation op tests (numpy has no bfloat16)."""

from __future__ import annotations

import numpy as np
from _refs import bf16 as bf16_round

DTYPES = ["f32", "f16", "bf16", "i32", "u32", "i8", "u8"]
NUMPY = {
    "f32": np.float32,
    "f16": np.float16,
    "bf16": np.float32,  # bf16 tensors read back as float32
    "i32": np.int32,
    "u32": np.uint32,
    "i8": np.int8,
    "u8": np.uint8,
}


def sample(rng: np.random.Generator, shape: tuple[int, ...], dtype: str) -> np.ndarray:
    """Values exactly representable in `dtype` (small integers for integer types), as the
    numpy array a tensor of that dtype reads back as."""
    if dtype in ("f32", "f16"):
        return rng.standard_normal(shape).astype(NUMPY[dtype])
    if dtype == "bf16":
        return bf16_round(rng.standard_normal(shape).astype(np.float32))
    info = np.iinfo(NUMPY[dtype])
    return rng.integers(max(info.min, -100), min(info.max, 100), shape).astype(NUMPY[dtype])
