"""Reference helpers shared by the op tests."""

from __future__ import annotations

import numpy as np


def bf16(x: np.ndarray) -> np.ndarray:
    """float32 rounded to the nearest bfloat16 (ties to even), as float32 (numpy has no bf16)."""
    u = np.asarray(x, np.float32).view(np.uint32).astype(np.uint64)
    rounded = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16) << 16
    return rounded.astype(np.uint32).view(np.float32)


def philox4x32_10(counters: np.ndarray, seed: int) -> np.ndarray:
    """Reference Philox4x32-10 (Random123's philox4x32 with 10 rounds): the 4 words for each
    counter row of `counters` ([n, 4] integers) under key (seed low, seed high), uint32 [n, 4]."""
    mask = np.uint64(0xFFFFFFFF)
    counters = np.asarray(counters, np.uint64).reshape(-1, 4)
    c = [counters[:, i] for i in range(4)]
    k0, k1 = np.uint64(seed & 0xFFFFFFFF), np.uint64(seed >> 32)
    for r in range(10):
        if r:
            k0, k1 = (k0 + np.uint64(0x9E3779B9)) & mask, (k1 + np.uint64(0xBB67AE85)) & mask
        p0, p1 = np.uint64(0xD2511F53) * c[0], np.uint64(0xCD9E8D57) * c[2]
        c = [
            (p1 >> np.uint64(32)) ^ c[1] ^ k0,
            p1 & mask,
            (p0 >> np.uint64(32)) ^ c[3] ^ k1,
            p0 & mask,
        ]
    return np.stack(c, axis=1).astype(np.uint32)
