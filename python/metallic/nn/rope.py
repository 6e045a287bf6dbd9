"""Rotary position embedding as a module: the rotation's base and pairing, applied at positions."""

from __future__ import annotations

from typing import Literal

from metallic import ops
from metallic._core import Tensor


class RoPE:
    """Rotates x [batch, seq, heads, head_dim] for positions offset.. (theta: the frequency base;
    style "neox" pairs dimension i with i + head_dim/2, as Hugging Face's Qwen2 and Llama do,
    "gptj" pairs adjacent dimensions, as llama.cpp stores Llama's Q/K rows)."""

    def __init__(self, theta: float, style: Literal["neox", "gptj"]) -> None:
        self.theta = theta
        self.style: Literal["neox", "gptj"] = style

    def __call__(self, x: Tensor, offset: int) -> Tensor:
        return ops.rope(x, offset=offset, theta=self.theta, style=self.style, layout="bshd")
