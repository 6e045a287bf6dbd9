"""metallic: Metal compute kernels for transformer inference, hackable from Python.

import metallic as mt
ctx = mt.Context()                  # Metal where available, else the host device
a = ctx.tensor(np.ones((4, 5), np.float32))
b = mt.ops.add(a, a)                # encoded lazily
b.numpy()                           # waits only as far as `b` needs
"""

from typing import Any

from metallic import _core, models, nn, ops, tensor_methods  # noqa: F401  (tensor_methods adds methods)
from metallic._core import (
    ArgumentError,
    Context,
    DeviceError,
    DTypeError,
    Graph,
    KernelCompileError,
    MetallicError,
    ShapeError,
    Tensor,
    graph_kernels,
)
from metallic._core import (
    # Also a builtins.IndexError (iteration stops on it); not in __all__, where a star import
    # would shadow the builtin.
    IndexError as IndexError,
)
from metallic.kernels import Function, Library, compile_library, default_context
from metallic.ops import backends

__version__ = "0.1.0"


def from_dlpack(source: Any, *, ctx: Context | None = None) -> Tensor:
    """A new tensor on `ctx` (default: the default context) holding a copy of a DLPack
    producer's data: a numpy array, a CPU torch tensor, a metallic Tensor of another context,
    or an unused DLPack capsule. (Export is zero-copy: np.from_dlpack(t), torch.from_dlpack(t).)"""
    return _core.from_dlpack(ctx or default_context(), source)


__all__ = [
    "ArgumentError",
    "backends",
    "Context",
    "Function",
    "Library",
    "compile_library",
    "default_context",
    "from_dlpack",
    "graph_kernels",
    "DTypeError",
    "Graph",
    "DeviceError",
    "KernelCompileError",
    "MetallicError",
    "ShapeError",
    "Tensor",
    "models",
    "nn",
    "ops",
]
