"""Operators and methods on Tensor that call ops (each section belongs to one op family)."""

from __future__ import annotations

from typing import Any

from metallic import _core, ops

# --- matmul ---------------------------------------------------------------------------------


def _matmul(self: _core.Tensor, other: Any) -> Any:
    """`a @ b`: mt.ops.matmul(a, b), lazily (b may be a quantized weight only through
    matmul(x, W, transpose_b=True))."""
    if not isinstance(other, _core.Tensor):
        return NotImplemented
    return ops.matmul(self, other)


_core.Tensor.__matmul__ = _matmul  # type: ignore[method-assign]
