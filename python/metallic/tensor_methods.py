"""Tensor operators and methods backed by ops, with numpy's names and semantics (declared in
_core.pyi's Tensor class); installed on metallic.Tensor when the package is imported.

Each section belongs to one op family; methods return new tensors, lazily, as the ops do.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from metallic import _core, ops
from metallic._core import Tensor

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


# --- elementwise, comparison and reduction operators and methods -------------------------------
# (binary_elemwise, compare, unary and reduce ops; scalars go to the kernels as values)


def _is_operand(other: object) -> bool:
    return isinstance(other, (Tensor, int, float)) and not isinstance(other, bool)


def _binary(op: Callable[..., Tensor], symbol: str, reflected: bool = False) -> Any:
    def method(self: Tensor, other: Any) -> Any:
        if not _is_operand(other):
            return NotImplemented
        return op(other, self) if reflected else op(self, other)

    method.__doc__ = f"`{'b ' + symbol + ' a' if reflected else 'a ' + symbol + ' b'}`: " + (
        f"mt.ops.{op.__name__}, numpy-broadcast; b may be a Python number."
    )
    return method


def _pow(self: Tensor, other: Any) -> Any:
    """`a ** b`: mt.ops.pow (mt.ops.square for a float tensor squared)."""
    if not _is_operand(other):
        return NotImplemented
    if not isinstance(other, Tensor) and other == 2 and self.dtype in ("f32", "f16", "bf16"):
        return ops.square(self)
    return ops.pow(self, other)


def _neg(self: Tensor) -> Tensor:
    """`-a`: mt.ops.neg."""
    return ops.neg(self)


def _abs(self: Tensor) -> Tensor:
    """`abs(a)`: mt.ops.abs."""
    return ops.abs(self)


def _reduction(op: Callable[..., Tensor]) -> Any:
    def method(
        self: Tensor, axis: int | Sequence[int] | None = None, keepdims: bool = False
    ) -> Tensor:
        return op(self, axis, keepdims)

    method.__doc__ = f"mt.ops.{op.__name__}(self, axis, keepdims), as numpy's method."
    return method


def _arg_reduction(op: Callable[..., Tensor]) -> Any:
    def method(self: Tensor, axis: int | None = None, keepdims: bool = False) -> Tensor:
        return op(self, axis, keepdims)

    method.__doc__ = f"mt.ops.{op.__name__}(self, axis, keepdims): i32 indices, as numpy's."
    return method


_ELEMENTWISE: dict[str, Any] = {
    "__add__": _binary(ops.add, "+"),
    "__radd__": _binary(ops.add, "+", reflected=True),
    "__sub__": _binary(ops.sub, "-"),
    "__rsub__": _binary(ops.sub, "-", reflected=True),
    "__mul__": _binary(ops.mul, "*"),
    "__rmul__": _binary(ops.mul, "*", reflected=True),
    "__truediv__": _binary(ops.div, "/"),
    "__rtruediv__": _binary(ops.div, "/", reflected=True),
    "__pow__": _pow,
    "__rpow__": _binary(ops.pow, "**", reflected=True),
    "__neg__": _neg,
    "__abs__": _abs,
    "__eq__": _binary(ops.equal, "=="),
    "__ne__": _binary(ops.not_equal, "!="),
    "__lt__": _binary(ops.less, "<"),
    "__le__": _binary(ops.less_equal, "<="),
    "__gt__": _binary(ops.greater, ">"),
    "__ge__": _binary(ops.greater_equal, ">="),
    "sum": _reduction(ops.sum),
    "mean": _reduction(ops.mean),
    "max": _reduction(ops.max),
    "min": _reduction(ops.min),
    "argmax": _arg_reduction(ops.argmax),
    "argmin": _arg_reduction(ops.argmin),
}
for _name, _method in _ELEMENTWISE.items():
    setattr(_core.Tensor, _name, _method)
# __eq__ would otherwise make Tensor unhashable; tensors hash by identity, as before.
_core.Tensor.__hash__ = object.__hash__  # type: ignore[method-assign]
