"""Linear, Embedding and the norms: thin wrappers over one or two ops each."""

from __future__ import annotations

from metallic import ops
from metallic._core import Tensor


class Linear:
    """y = x · Wᵀ + b, with W stored (out_features, in_features) as nn.Linear and GGUF store it.

    W may be f32, f16, bf16 or quantized (q8_0, q4_0) and stays so; x is [..., in_features].
    An f16/bf16 W meets x in W's dtype (matmul multiplies one float dtype), and y comes back in
    x's dtype: the weights keep their size, the activations their precision between layers.
    """

    def __init__(self, weight: Tensor, bias: Tensor | None = None) -> None:
        self.weight = weight
        self.bias = bias

    @property
    def out_features(self) -> int:
        return int(self.weight.shape[0])

    def __call__(self, x: Tensor) -> Tensor:
        w = self.weight
        if w.dtype in ("f16", "bf16") and x.dtype != w.dtype:
            y = ops.astype(ops.matmul(ops.astype(x, w.dtype), w, transpose_b=True), x.dtype)
        else:
            y = ops.matmul(x, w, transpose_b=True)
        return y if self.bias is None else ops.add(y, self.bias)


class Embedding:
    """Rows of a (num_embeddings, dim) table by integer ids: [...] -> [..., dim] in `dtype`
    (a table kept in f16 or bf16 gives rows converted to the activations' dtype)."""

    def __init__(self, table: Tensor, dtype: str = "f32") -> None:
        self.table = table
        self.dtype = dtype

    def __call__(self, ids: Tensor) -> Tensor:
        rows = ops.embedding(self.table, ids)
        return rows if rows.dtype == self.dtype else ops.astype(rows, self.dtype)


class LayerNorm:
    """(x - mean) / sqrt(var + eps) * weight + bias over the last axis."""

    def __init__(self, weight: Tensor, bias: Tensor, eps: float = 1e-5) -> None:
        self.weight = weight
        self.bias = bias
        self.eps = eps

    def __call__(self, x: Tensor) -> Tensor:
        return ops.layer_norm(x, self.weight, self.bias, eps=self.eps)

    def add_and_norm(self, x: Tensor, residual: Tensor) -> Tensor:
        """The norm of x + residual in one fused op (a post-norm block such as BERT's)."""
        normed, _ = ops.add_layer_norm(x, residual, self.weight, self.bias, eps=self.eps)
        return normed


class RMSNorm:
    """x / sqrt(mean(x²) + eps) * weight over the last axis."""

    def __init__(self, weight: Tensor, eps: float = 1e-6) -> None:
        self.weight = weight
        self.eps = eps

    def __call__(self, x: Tensor) -> Tensor:
        return ops.rms_norm(x, self.weight, eps=self.eps)
