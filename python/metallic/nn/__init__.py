"""Modules built only from metallic ops: the layers of transformer models.

Each module holds its weights as device tensors and calls metallic ops in `__call__`; nothing
here does math in numpy.
"""

from metallic.nn.layers import Embedding, LayerNorm, Linear, RMSNorm

__all__ = ["Embedding", "LayerNorm", "Linear", "RMSNorm"]
