"""Tensor operators and methods backed by ops (declared in _core.pyi's Tensor class).

Each section belongs to one op family; methods return new tensors, lazily, as the ops do.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from metallic import _core, ops
from metallic._core import Tensor

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
