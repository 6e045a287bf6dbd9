"""Modules built only from metallic ops: the layers of transformer models.

Each module holds its weights as device tensors and calls metallic ops in `__call__`; nothing
here does math in numpy. The encoder's attention (padded batches, no cache) lives with BERT
(metallic/models/bert.py).
"""

from metallic.nn.attention import Attention, KVCache
from metallic.nn.layers import Embedding, LayerNorm, Linear, RMSNorm
from metallic.nn.mlp import GELUMLP, SwiGLUMLP
from metallic.nn.rope import RoPE

__all__ = [
    "GELUMLP",
    "Attention",
    "Embedding",
    "KVCache",
    "LayerNorm",
    "Linear",
    "RMSNorm",
    "RoPE",
    "SwiGLUMLP",
]
