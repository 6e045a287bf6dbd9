"""Models built from metallic ops: `mt.models.load(path)` and `mt.models.SentenceEncoder`."""

from __future__ import annotations

from pathlib import Path

from metallic.models.errors import ModelError
from metallic.models.sentence_encoder import SentenceEncoder, bundled_model_dir

__all__ = ["ModelError", "SentenceEncoder", "bundled_model_dir", "load"]


def load(path: str | Path, device: str = "auto") -> SentenceEncoder:
    """A model from `path`: a sentence-transformers directory gives a SentenceEncoder.

    GGUF decoders (Qwen2, Llama) are not implemented yet: a .gguf path is a ModelError saying so.
    """
    p = Path(path)
    if p.is_dir():
        return SentenceEncoder(p, device=device)
    if p.suffix == ".gguf":
        raise ModelError(f"{p}: GGUF decoders are not supported yet (only sentence encoders)")
    if not p.exists():
        raise ModelError(f"{p}: no such file or directory")
    raise ModelError(
        f"{p}: not a model (expected a sentence-transformers directory or a .gguf file)"
    )
