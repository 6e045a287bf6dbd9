"""Fixtures of the model tests: tiny GGUF decoders written once per session."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("gguf")
pytest.importorskip("sentencepiece")

from metallic.models.tiny import (  # noqa: E402
    byte_level_tokenizer,
    hf_model,
    sentencepiece_model,
    vocab_size,
    write_gguf,
)


@pytest.fixture(scope="session")
def tokenizers() -> dict[str, Any]:
    """Each architecture's vocabulary, as its real models have: byte-level BPE for Qwen2, a
    SentencePiece model (proto bytes) for Llama."""
    return {"qwen2": byte_level_tokenizer(), "llama": sentencepiece_model()}


@pytest.fixture(scope="session")
def tiny(tmp_path_factory: pytest.TempPathFactory, tokenizers: dict[str, Any]) -> Any:
    """tiny(arch, weight_type) -> (transformers model, path of its GGUF file)."""
    cache: dict[tuple[str, str], tuple[Any, Path]] = {}
    models: dict[str, Any] = {}
    root = tmp_path_factory.mktemp("gguf")

    def get(arch: str, weight_type: str) -> tuple[Any, Path]:
        if arch not in models:
            models[arch] = hf_model(arch, vocab_size(tokenizers[arch]))
        key = (arch, weight_type)
        if key not in cache:
            path = root / f"{arch}-{weight_type}.gguf"
            cache[key] = (
                models[arch],
                write_gguf(models[arch], tokenizers[arch], arch, path, weight_type),
            )
        return cache[key]

    return get


@pytest.fixture
def gpt2_gguf(tmp_path: Path) -> Path:
    """A well-formed GGUF file of an architecture metallic does not support (gpt2)."""
    import gguf

    path = tmp_path / "gpt2.gguf"
    w = gguf.GGUFWriter(str(path), "gpt2")
    w.add_block_count(1)
    w.add_tensor("x", np.zeros(4, np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path
