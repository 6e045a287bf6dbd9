"""Fixtures of the model tests: tiny GGUF decoders written once per session."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("gguf")

from tiny_models import byte_level_tokenizer, hf_model, write_gguf  # noqa: E402


@pytest.fixture(scope="session")
def tokenizer() -> Any:
    return byte_level_tokenizer()


@pytest.fixture(scope="session")
def tiny(tmp_path_factory: pytest.TempPathFactory, tokenizer: Any) -> Any:
    """tiny(arch, weight_type) -> (transformers model, path of its GGUF file)."""
    cache: dict[tuple[str, str], tuple[Any, Path]] = {}
    models: dict[str, Any] = {}
    root = tmp_path_factory.mktemp("gguf")

    def get(arch: str, weight_type: str) -> tuple[Any, Path]:
        if arch not in models:
            models[arch] = hf_model(arch, tokenizer.get_vocab_size())
        key = (arch, weight_type)
        if key not in cache:
            path = root / f"{arch}-{weight_type}.gguf"
            cache[key] = (
                models[arch],
                write_gguf(models[arch], tokenizer, arch, path, weight_type),
            )
        return cache[key]

    return get
