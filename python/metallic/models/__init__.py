"""Models built from metallic ops: `mt.models.load(path)` and `mt.models.SentenceEncoder`."""

from __future__ import annotations

from pathlib import Path

from metallic.models.decoder import Decoder
from metallic.models.errors import ModelError
from metallic.models.sentence_encoder import SentenceEncoder, bundled_model_dir

__all__ = ["Decoder", "ModelError", "SentenceEncoder", "bundled_model_dir", "load"]


def load(path: str | Path, device: str = "auto") -> Decoder | SentenceEncoder:
    """A model from `path`: a GGUF file gives a Decoder (Qwen2, Llama), a sentence-transformers
    directory a SentenceEncoder."""
    p = Path(path)
    if p.is_dir():
        return SentenceEncoder(p, device=device)
    if p.is_file():
        with open(p, "rb") as f:
            if f.read(4) == b"GGUF":
                return Decoder(p, device=device)
    if not p.exists():
        raise ModelError(f"{p}: no such file or directory")
    raise ModelError(
        f"{p}: not a model (expected a sentence-transformers directory or a .gguf file)"
    )
