"""Reading a GGUF file with the `gguf` package: metadata, and tensors moved to the device with
quantized types kept quantized. Every problem is a ModelError naming the file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from metallic._core import Context, Tensor
from metallic.models.errors import ModelError

# GGML tensor types metallic reads, by the gguf package's GGMLQuantizationType names.
SUPPORTED_TYPES = ("F32", "F16", "BF16", "Q8_0", "Q4_0")


class GGUFFile:
    """A memory-mapped GGUF file: `metadata` (key -> value) and tensors by name."""

    def __init__(self, path: str | Path) -> None:
        import gguf

        self.path = Path(path)
        if not self.path.is_file():
            raise ModelError(f"{self.path}: no such file")
        try:
            reader = gguf.GGUFReader(str(self.path), "r")
            self.metadata: dict[str, Any] = {
                name: field.contents() for name, field in reader.fields.items()
            }
        except Exception as e:  # the reader raises ValueError, IndexError, struct errors, ...
            raise ModelError(
                f"{self.path}: not a valid GGUF file ({type(e).__name__}: {e})"
            ) from None
        self._tensors = {t.name: t for t in reader.tensors}

    def get(self, key: str, default: Any = ...) -> Any:
        """A metadata value; a ModelError names the key when it is missing and has no default."""
        if key in self.metadata:
            return self.metadata[key]
        if default is ...:
            raise ModelError(f"{self.path}: missing metadata {key!r}")
        return default

    def has_tensor(self, name: str) -> bool:
        return name in self._tensors

    @property
    def tensor_count(self) -> int:
        """How many tensors the file holds."""
        return len(self._tensors)

    def tensor(self, ctx: Context, name: str, gatherable: bool = False) -> Tensor:
        """Tensor `name` on the device, in numpy's dimension order (GGUF lists them reversed), in
        its file dtype: F16, BF16, Q8_0 and Q4_0 stay what they are (no copy on the host
        device). `gatherable` (an embedding table, read by row rather than multiplied) turns
        Q8_0/Q4_0 into f16: embedding copies rows and has no dequantizing path, and f16's
        rounding (2^-11) is far below the quantization's own error."""
        t = self._tensors.get(name)
        if t is None:
            raise ModelError(f"{self.path}: missing tensor {name!r}")
        kind = t.tensor_type.name
        shape = tuple(int(d) for d in reversed(t.shape.tolist()))
        if kind not in SUPPORTED_TYPES:
            raise ModelError(
                f"{self.path}: tensor {name!r} has type {kind}, which metallic does not read "
                f"({', '.join(SUPPORTED_TYPES)})"
            )
        data = np.asarray(t.data)
        if gatherable and kind in ("Q8_0", "Q4_0"):
            import gguf

            rows = gguf.quants.dequantize(data, t.tensor_type).reshape(shape)
            return ctx.tensor(rows.astype(np.float16))
        return ctx.tensor_from_bytes(
            np.ascontiguousarray(data).view(np.uint8), dtype=kind.lower(), shape=shape
        )
