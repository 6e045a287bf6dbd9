"""Custom kernels compiled at run time from MSL source.

    lib = mt.compile_library(source, ctx=ctx)   # compiles now: KernelCompileError here
    fn = lib.function("scale", constants={"use_bias": True})
    fn(x, out, np.float32(2.0), grid=(n,), threadgroup=(256,))

A library is compiled on the context it is given (or the default context) when it is created, as
Metal's newLibraryWithSource does; the context keeps it cached (one cache, in the core, beside
the built-in libraries). On the host device the source is translated to C++ and compiled with the
system compiler (cached on disk by content hash); on Metal it is compiled by the driver.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from metallic import _core
from metallic._msl.translate import constant_index

_CONSTANT_DECL = re.compile(
    r"constant\s+(\w+)\s+(\w+)\s*\[\[\s*(function_constant\s*\([^\]]*\))\s*\]\]"
)
_GRID_LIMIT = 2**32 - 1  # Metal grids and threadgroups count in 32-bit integers


class Library:
    """MSL source compiled on a context (its `context`); used on another context, it is compiled
    there too (that context's cache keeps it)."""

    def __init__(
        self, source: str, name: str, include_dirs: Sequence[str], ctx: _core.Context
    ) -> None:
        self.source = source
        self.name = name
        self.include_dirs = [str(d) for d in include_dirs]
        # Function constants declared in the source: name -> (index, MSL type).
        self.constants = {
            m[2]: (index, m[1])
            for m in _CONSTANT_DECL.finditer(source)
            if (index := constant_index(m[3])) is not None
        }
        self.context = ctx
        # Compiled now, as newLibraryWithSource does, even if ctx has it cached: a header it
        # includes may have changed since.
        self._compiled = _core.compile_library(
            ctx, self.source, self.name, self.include_dirs, recompile=True
        )

    def _on(self, ctx: _core.Context) -> _core.Library:
        if ctx is self.context:
            return self._compiled
        return _core.compile_library(ctx, self.source, self.name, self.include_dirs)

    def function_names(self, ctx: _core.Context | None = None) -> list[str]:
        """The kernel functions of the library."""
        return (self._compiled if ctx is None else self._on(ctx)).function_names()

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
        """The compiled pipeline on `ctx` (default: the library's context)."""
        ctx = ctx or self.library.context
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
        scalar or small array (or bytes) binds inline bytes, None leaves the index unbound (for a
        parameter a function constant disables). Arguments are checked against the kernel's
        parameters where the device reflects them (the host device does)."""
        if dispatch not in ("threads", "threadgroups"):
            raise _core.ArgumentError("dispatch must be 'threads' or 'threadgroups'")
        ctx = ctx or _context_of(args, self.library.context)
        bound = [_bind(i, a) for i, a in enumerate(args)]
        _core.dispatch(
            ctx,
            self.pipeline(ctx),
            bound,
            _size3(grid, "grid"),
            _size3(threadgroup, "threadgroup"),
            dispatch == "threads",
            _threadgroup_memory(threadgroup_memory),
        )


def compile_library(
    source: str,
    *,
    name: str | None = None,
    include_dirs: Sequence[str] = (),
    ctx: _core.Context | None = None,
) -> Library:
    """A kernel library from MSL source, compiled now on `ctx` (default: the default context);
    raises KernelCompileError naming the file and line."""
    lib_name = name or "user_library"
    if not re.fullmatch(r"[A-Za-z_]\w*", lib_name):
        raise _core.ArgumentError(f"library name '{lib_name}' must be a C identifier")
    return Library(source, lib_name, include_dirs, ctx or default_context())


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


def default_context() -> _core.Context:
    """The context used where none is given (created on first use, device "auto")."""
    global _default
    if _default is None:
        _default = _core.Context()
    return _default


def _compile_for_host(source: str, name: str, include_dirs: list[str], checks: bool) -> str:
    """The host device's compiler of MSL source (installed into the core by _core): the path of
    the shared object."""
    from metallic._msl.compile import CompileError, compile_host_library

    try:
        return str(compile_host_library(source, name, include_dirs, checks=checks))
    except CompileError as e:
        raise _core.KernelCompileError(str(e)) from None


def _context_of(args: Sequence[Any], fallback: _core.Context) -> _core.Context:
    for a in args:
        if isinstance(a, _core.Tensor):
            return a.context
    return fallback


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
    try:
        dims = [int(v) for v in value]
    except (TypeError, ValueError):
        raise _core.ArgumentError(f"{what} must be 1 to 3 sizes, got {value!r}") from None
    if not 1 <= len(dims) <= 3 or any(d < 0 for d in dims):
        raise _core.ArgumentError(f"{what} must be 1 to 3 non-negative sizes, got {tuple(value)}")
    if any(d > _GRID_LIMIT for d in dims):
        raise _core.ArgumentError(
            f"{what} {tuple(value)}: each size is at most 2^32-1 ({_GRID_LIMIT}); Metal counts "
            f"threads and threadgroups in 32-bit integers"
        )
    dims += [1] * (3 - len(dims))
    return dims[0], dims[1], dims[2]


def _threadgroup_memory(value: Mapping[int, int] | None) -> dict[int, int]:
    out: dict[int, int] = {}
    for index, length in (value or {}).items():
        if not isinstance(index, int | np.integer) or not 0 <= int(index) <= 30:
            raise _core.ArgumentError(
                f"threadgroup_memory keys are [[threadgroup(i)]] indices 0..30, got {index!r}"
            )
        if not isinstance(length, int | np.integer) or not 0 <= int(length) < 2**32:
            raise _core.ArgumentError(
                f"threadgroup_memory[{index}] must be a number of bytes, got {length!r}"
            )
        out[int(index)] = int(length)
    return out
