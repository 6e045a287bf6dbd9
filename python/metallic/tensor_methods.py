"""Tensor operators and methods backed by ops, with numpy's names and semantics; installed on
metallic.Tensor when the package is imported. Each section belongs to one op family."""

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

# --- layout: copy, cast, reshape, slice assignment ------------------------------------------

_view_reshape = _core.Tensor.reshape


def contiguous(self: _core.Tensor) -> _core.Tensor:
    """This tensor if it is contiguous, else a contiguous copy (mt.ops.contiguous)."""
    result: _core.Tensor = ops.contiguous(self)
    return result


def astype(self: _core.Tensor, dtype: Any) -> _core.Tensor:
    """A contiguous copy converted to dtype (mt.ops.astype; numpy's casting='unsafe')."""
    result: _core.Tensor = ops.astype(self, dtype)
    return result


def reshape(self: _core.Tensor, *shape: Any) -> _core.Tensor:
    """A view with a new shape (one dimension may be -1); a strided view is copied first."""
    return _view_reshape(self if self.is_contiguous() else ops.copy(self), *shape)


def _view_for_index(tensor: _core.Tensor, index: Any) -> _core.Tensor:
    """The view `tensor[index]` names; a step-1 slice of the outer axis is resolved here."""
    if isinstance(index, slice) and index.step in (None, 1):
        start, stop, _ = index.indices(len(tensor))
        return tensor.slice(start, max(start, stop))
    view: _core.Tensor = tensor[index]
    return view


def setitem(self: _core.Tensor, index: Any, value: Any) -> None:
    """`t[index] = value`: a tensor broadcast into the view (converted to t's dtype), or a
    number filled into it (mt.ops.copyto), lazily."""
    view = _view_for_index(self, index)
    if isinstance(value, _core.Tensor):
        ops.copyto(view, value)
    else:
        ops.copyto(view, float(value))


_core.Tensor.contiguous = contiguous  # type: ignore[method-assign]
_core.Tensor.astype = astype  # type: ignore[method-assign]
_core.Tensor.reshape = reshape  # type: ignore[method-assign]
_core.Tensor.__setitem__ = setitem  # type: ignore[method-assign]
