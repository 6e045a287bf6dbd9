"""The feed-forward blocks of transformers: SwiGLU (Qwen2, Llama) and GELU (BERT)."""

from __future__ import annotations

from typing import Literal

from metallic import ops
from metallic._core import Tensor
from metallic.nn.layers import Linear


class SwiGLUMLP:
    """down(silu(gate(x)) * up(x))."""

    def __init__(self, gate: Linear, up: Linear, down: Linear) -> None:
        self.gate, self.up, self.down = gate, up, down

    def __call__(self, x: Tensor) -> Tensor:
        return self.down(ops.swiglu(self.gate(x), self.up(x)))


class GELUMLP:
    """down(gelu(up(x))), with the exact (erf) or the tanh-approximated GELU."""

    def __init__(self, up: Linear, down: Linear, approximate: Literal["none", "tanh"]) -> None:
        self.up, self.down = up, down
        self.approximate: Literal["none", "tanh"] = approximate

    def __call__(self, x: Tensor) -> Tensor:
        return self.down(ops.gelu(self.up(x), approximate=self.approximate))
