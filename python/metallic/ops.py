"""Functional ops, generated from the ops registered in the C++ core (cpp/src/ops/*.cpp).

`mt.ops.add(a, b)` runs on the context of its first tensor argument; `mt.ops.ElemwiseAddOp` is a
handle for `ctx.call(mt.ops.ElemwiseAddOp, a, b)`. The typed signatures are in ops.pyi, which
`python -m metallic.stubs` regenerates from the registry (a test checks it is current).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from metallic import _core
from metallic.kernels import default_context


class OpHandle:
    """One registered op: call it with tensors, or pass it to Context.call."""

    def __init__(self, info: dict[str, Any]) -> None:
        self.index: int = info["index"]
        self.name: str = info["name"]
        self.class_name: str = info["class_name"]
        self.params: list[tuple[str, str, str | None, str]] = info["params"]
        self.returns: str = info["returns"]
        self.needs_context: bool = info["needs_context"]
        self.__doc__ = info["doc"]
        self.__name__ = self.name

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self.needs_context:  # no tensor argument: ctx= or the default context
            ctx = kwargs.pop("ctx", None) or default_context()
            return _core.call_op(ctx, self.index, args, kwargs)
        # The context is the first Tensor argument's (found in C++: this is the hot path).
        return _core.call_op(None, self.index, args, kwargs)

    def call(self, ctx: _core.Context, *args: Any, **kwargs: Any) -> Any:
        return _core.call_op(ctx, self.index, args, kwargs)

    def __repr__(self) -> str:
        params = ", ".join(p[0] for p in self.params)
        return f"<metallic op {self.name}({params})>"


def backends(ctx: _core.Context | None = None) -> dict[str, list[str]]:
    """{op: [backends]} for the ops with several implementations, as available on `ctx`'s device
    (default context if None). Force one with ctx.set_backend(op, name) or
    METALLIC_FORCE_<OP>_BACKEND; ctx.backend_events() lists the choices made."""
    return dict(_core.backends(ctx or default_context()))


@contextlib.contextmanager
def _capture(ctx: _core.Context, path: str) -> Iterator[None]:
    """`with ctx.capture("trace.gputrace"):` records the enclosed work in an Xcode GPU capture
    (Metal only; needs MTL_CAPTURE_ENABLED=1 before the process first uses Metal)."""
    ctx.capture_begin(path)
    try:
        yield
    finally:
        ctx.capture_end()


@contextlib.contextmanager
def _scope(ctx: _core.Context, name: str) -> Iterator[None]:
    """`with ctx.scope("layer0"):` prefixes the profiler labels of the enclosed ops."""
    ctx.push_scope(name)
    try:
        yield
    finally:
        ctx.pop_scope()


_core.Context.scope = _scope  # type: ignore[attr-defined]
_core.Context.capture = _capture  # type: ignore[attr-defined]

for _info in _core.op_infos():
    _handle = OpHandle(_info)
    globals()[_handle.name] = _handle
    globals()[_handle.class_name] = _handle
del _info, _handle
