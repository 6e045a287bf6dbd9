"""metallic: Metal compute kernels for transformer inference, hackable from Python.

import metallic as mt
ctx = mt.Context()                  # Metal where available, else the host device
a = ctx.tensor(np.ones((4, 5), np.float32))
b = mt.ops.add(a, a)                # encoded lazily
b.numpy()                           # waits only as far as `b` needs
"""

from metallic import ops, tensor_methods  # noqa: F401 - tensor_methods adds Tensor methods
from metallic._core import (
    ArgumentError,
    Context,
    DeviceError,
    DTypeError,
    KernelCompileError,
    MetallicError,
    ShapeError,
    Tensor,
)
from metallic.kernels import Function, Library, compile_library
from metallic.ops import backends

__version__ = "0.1.0"

__all__ = [
    "ArgumentError",
    "backends",
    "Context",
    "Function",
    "Library",
    "compile_library",
    "DTypeError",
    "DeviceError",
    "KernelCompileError",
    "MetallicError",
    "ShapeError",
    "Tensor",
    "ops",
]
