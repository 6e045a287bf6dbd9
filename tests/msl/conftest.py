"""MSL conformance on the host device: kernels compiled at run time with mt.compile_library and
checked against numpy.

`run(lib, name, *args, grid=..., threadgroup=...)` binds each numpy array argument as a device
buffer (raw bytes, so any element type works: ushort, ulong, bfloat as uint16, structs as bytes),
each numpy scalar / bytes as inline bytes ([[buffer(i)]] constant T&), and returns the arrays as
the kernel left them (same dtype and shape). Several kernels share one library source where
sensible: every library costs a C++ compile the first time (then it is cached on disk).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import metallic as mt
import numpy as np
import pytest

HEADER = "#include <metal_stdlib>\nusing namespace metal;\n"


_libraries: dict[tuple[str, str, tuple[str, ...]], mt.Library] = {}


def library(source: str, name: str = "conformance", include_dirs: Sequence[str] = ()) -> mt.Library:
    """The library for `source` (one object per distinct source: compiled once per session)."""
    key = (source, name, tuple(str(d) for d in include_dirs))
    lib = _libraries.get(key)
    if lib is None:
        lib = mt.compile_library(source, name=name, include_dirs=include_dirs)
        _libraries[key] = lib
    return lib


def _bytes_tensor(ctx: mt.Context, a: np.ndarray) -> mt.Tensor:
    raw = np.frombuffer(np.ascontiguousarray(a).tobytes(), dtype=np.uint8)
    if raw.size == 0:
        raw = np.zeros(16, np.uint8)
    return ctx.tensor(raw.copy())


def run(
    ctx: mt.Context,
    lib: mt.Library,
    name: str,
    *args: Any,
    grid: Sequence[int],
    threadgroup: Sequence[int],
    dispatch: str = "threads",
    constants: Mapping[str | int, Any] | None = None,
    threadgroup_memory: Mapping[int, int] | None = None,
) -> list[Any]:
    """Runs kernel `name`; numpy arrays are device buffers (returned updated), numpy scalars and
    bytes are inline bytes, None leaves the index unbound."""
    bound: list[Any] = []
    tensors: list[tuple[int, mt.Tensor, np.ndarray]] = []
    for i, a in enumerate(args):
        if isinstance(a, np.ndarray):
            t = _bytes_tensor(ctx, a)
            tensors.append((i, t, a))
            bound.append(t)
        else:
            bound.append(a)
    fn = lib.function(name, constants=constants)
    fn(
        *bound,
        grid=grid,
        threadgroup=threadgroup,
        dispatch=dispatch,
        threadgroup_memory=threadgroup_memory,
        ctx=ctx,
    )
    out = list(args)
    for i, t, a in tensors:
        raw = t.numpy().tobytes()[: a.nbytes]
        out[i] = np.frombuffer(raw, dtype=a.dtype).reshape(a.shape).copy()
    return out


class Msl:
    """What a test gets from the `msl` fixture: the host context and the helpers above."""

    HEADER = HEADER

    def __init__(self, ctx: mt.Context) -> None:
        self.ctx = ctx

    def library(
        self, source: str, name: str = "conformance", include_dirs: Sequence[str] = ()
    ) -> mt.Library:
        return library(source, name, include_dirs)

    def run(self, lib: mt.Library | str, name: str, *args: Any, **kw: Any) -> list[Any]:
        if isinstance(lib, str):
            lib = library(lib)
        return run(self.ctx, lib, name, *args, **kw)

    bf16_bits = staticmethod(lambda x: f32_to_bf16_bits(x))
    bf16_value = staticmethod(lambda b: bf16_bits_to_f32(b))


@pytest.fixture(scope="session")
def hctx() -> mt.Context:
    return mt.Context(device="host")


@pytest.fixture(scope="session")
def msl(hctx: mt.Context) -> Msl:
    return Msl(hctx)


@pytest.fixture(scope="session")
def msl_checked() -> Msl:
    """The helpers on a host context with debug checks (the checked translation)."""
    return Msl(mt.Context(device="host", host_checks=True))


def f32_to_bf16_bits(x: np.ndarray) -> np.ndarray:
    """float32 values rounded to bfloat (round to nearest even), as uint16 bit patterns."""
    u = np.asarray(x, np.float32).view(np.uint32).astype(np.uint64)
    u = (u + 0x7FFF + ((u >> 16) & 1)) >> 16
    return u.astype(np.uint16)


def bf16_bits_to_f32(b: np.ndarray) -> np.ndarray:
    return (np.asarray(b, np.uint16).astype(np.uint32) << 16).view(np.float32)
