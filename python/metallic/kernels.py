"""Custom kernels compiled at run time from MSL source.

    lib = mt.compile_library(source)
    fn = lib.function("scale", constants={"use_bias": True})
    fn(x, out, np.float32(2.0), grid=(n,), threadgroup=(256,))

On the host device the source is translated to C++ and compiled with the system compiler (cached
on disk by content hash); on Metal it is compiled by the driver (newLibraryWithSource).
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from metallic import _core
from metallic._msl.translate import constant_index

_CONSTANT_DECL = re.compile(
    r"constant\s+(\w+)\s+(\w+)\s*\[\[\s*(function_constant\s*\([^\]]*\))\s*\]\]"
)


class Library:
    """MSL source compiled for each context it is used on (lazily, and cached)."""

    def __init__(self, source: str, name: str, include_dirs: Sequence[str]) -> None:
        self.source = source
        self.name = name
        self.include_dirs = [str(d) for d in include_dirs]
        # Function constants declared in the source: name -> (index, MSL type).
        self.constants = {
            m[2]: (index, m[1])
            for m in _CONSTANT_DECL.finditer(source)
            if (index := constant_index(m[3])) is not None
        }
        # Compiled per context; weak, so a library does not keep its contexts alive.
        self._loaded: weakref.WeakKeyDictionary[_core.Context, _core.Library] = (
            weakref.WeakKeyDictionary()
        )

    def _on(self, ctx: _core.Context) -> _core.Library:
        loaded = self._loaded.get(ctx)
        if loaded is None:
            loaded = self._loaded[ctx] = _load(ctx, self)
        return loaded

    def function_names(self, ctx: _core.Context | None = None) -> list[str]:
        """The kernel functions of the library (compiling it for `ctx` or a host context)."""
        return self._on(ctx or _default_context()).function_names()

    def function(self, name: str, constants: Mapping[str | int, Any] | None = None) -> Function:
        """The kernel `name`, specialised by function-constant values given by name or index."""
        resolved: list[tuple[int, str, Any]] = []
        by_index = {index: type_ for index, type_ in self.constants.values()}
        for key, value in (constants or {}).items():
            if isinstance(key, str):
                if key not in self.constants:
                    known = ", ".join(sorted(self.constants)) or "none"
                    raise _core.ArgumentError(
                        f"'{key}' is not a function constant of library {self.name} "
                        f"(declared: {known})"
                    )
                index, type_ = self.constants[key]
            elif key in by_index:
                index, type_ = key, by_index[key]
            else:
                # Declared with an index this scan cannot evaluate (a macro): the value's Python
                # type picks the MSL type, which must then match the declaration.
                index, type_ = key, _constant_type(key, value)
            if any(index == r[0] for r in resolved):
                raise _core.ArgumentError(f"function constant {index} is given twice")
            resolved.append((index, type_, value))
        return Function(self, name, sorted(resolved, key=lambda r: r[0]))


class Function:
    """A kernel function with its constants; calling it encodes a dispatch lazily."""

    def __init__(self, library: Library, name: str, constants: list[tuple[int, str, Any]]):
        self.library = library
        self.name = name
        self.constants = constants

    def pipeline(self, ctx: _core.Context | None = None) -> _core.Pipeline:
        """The compiled pipeline on `ctx` (max threads per threadgroup, execution width, ...)."""
        ctx = ctx or _default_context()
        return _core.make_pipeline(ctx, self.library._on(ctx), self.name, self.constants)

    @property
    def max_total_threads_per_threadgroup(self) -> int:
        return self.pipeline().max_total_threads_per_threadgroup

    @property
    def thread_execution_width(self) -> int:
        return self.pipeline().thread_execution_width

    @property
    def static_threadgroup_memory_length(self) -> int:
        return self.pipeline().static_threadgroup_memory_length

    def __call__(
        self,
        *args: Any,
        grid: Sequence[int],
        threadgroup: Sequence[int],
        dispatch: str = "threads",
        threadgroup_memory: Mapping[int, int] | None = None,
        ctx: _core.Context | None = None,
    ) -> None:
        """Encodes the kernel; args[i] binds [[buffer(i)]]: a Tensor binds its buffer, a numpy
        scalar or small array (or bytes) binds inline bytes, None leaves the index unbound."""
        if dispatch not in ("threads", "threadgroups"):
            raise _core.ArgumentError("dispatch must be 'threads' or 'threadgroups'")
        ctx = ctx or _context_of(args)
        bound = [_bind(i, a) for i, a in enumerate(args)]
        _core.dispatch(
            ctx,
            self.pipeline(ctx),
            bound,
            _size3(grid, "grid"),
            _size3(threadgroup, "threadgroup"),
            dispatch == "threads",
            dict(threadgroup_memory or {}),
        )


def compile_library(
    source: str, *, name: str | None = None, include_dirs: Sequence[str] = ()
) -> Library:
    """A kernel library from MSL source; compiled on first use on each context."""
    lib = Library(source, name or "user_library", include_dirs)
    if not re.fullmatch(r"[A-Za-z_]\w*", lib.name):
        raise _core.ArgumentError(f"library name '{lib.name}' must be a C identifier")
    return lib


def _constant_type(index: int, value: Any) -> str:
    if isinstance(value, bool | np.bool_):
        return "bool"
    if isinstance(value, int | np.integer):
        return "int"
    if isinstance(value, float | np.floating):
        return "float"
    raise _core.ArgumentError(
        f"function constant {index}: give a bool, int or float (or set it by name)"
    )


_default: _core.Context | None = None


def _default_context() -> _core.Context:
    global _default
    if _default is None:
        _default = _core.Context()
    return _default


def _load(ctx: _core.Context, lib: Library) -> _core.Library:
    if ctx.device == "host":
        from metallic._msl.compile import CompileError, compile_host_library

        try:
            path = compile_host_library(
                lib.source, lib.name, lib.include_dirs, checks=ctx.host_checks
            )
        except CompileError as e:
            raise _core.KernelCompileError(str(e)) from None
        return _core.load_host_library(ctx, str(path), lib.name)
    return _core.compile_source_library(ctx, lib.source, lib.name, lib.include_dirs)


def _context_of(args: Sequence[Any]) -> _core.Context:
    for a in args:
        if isinstance(a, _core.Tensor):
            return a.context
    return _default_context()


def _bind(index: int, value: Any) -> _core.Tensor | bytes | None:
    if value is None or isinstance(value, _core.Tensor | bytes):
        return value
    if isinstance(value, np.generic | np.ndarray):
        return np.ascontiguousarray(value).tobytes()
    raise _core.ArgumentError(
        f"argument {index} is a {type(value).__name__}: pass a Tensor, a numpy scalar with an "
        f"explicit type (np.float32(x), np.uint32(n)), a numpy array or bytes"
    )


def _size3(value: Sequence[int], what: str) -> tuple[int, int, int]:
    dims = [int(v) for v in value]
    if not 1 <= len(dims) <= 3 or any(d < 0 for d in dims):
        raise _core.ArgumentError(f"{what} must be 1 to 3 non-negative sizes, got {tuple(value)}")
    dims += [1] * (3 - len(dims))
    return dims[0], dims[1], dims[2]
