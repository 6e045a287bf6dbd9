"""The BERT encoder (BertModel as Hugging Face defines it) from config.json + model.safetensors,
run with metallic ops only."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from metallic import ops
from metallic._core import Context, Tensor
from metallic.models.errors import ModelError
from metallic.nn import GELUMLP, Embedding, LayerNorm, Linear


@dataclass(frozen=True)
class BertConfig:
    """The fields of a BERT config.json that the forward pass needs."""

    hidden_size: int
    num_layers: int
    num_heads: int
    intermediate_size: int
    layer_norm_eps: float
    hidden_act: str

    @staticmethod
    def load(path: Path) -> BertConfig:
        """Reads config.json; a ModelError names the file and the missing or bad field."""
        try:
            raw = json.loads(path.read_text())
        except FileNotFoundError:
            raise ModelError(
                f"{path}: no such file (a model directory needs config.json)"
            ) from None
        except (OSError, ValueError) as e:
            raise ModelError(f"{path}: not a readable JSON file ({e})") from None
        if raw.get("model_type", "bert") != "bert":
            raise ModelError(
                f"{path}: model_type {raw.get('model_type')!r} is not supported (bert)"
            )
        try:
            config = BertConfig(
                hidden_size=int(raw["hidden_size"]),
                num_layers=int(raw["num_hidden_layers"]),
                num_heads=int(raw["num_attention_heads"]),
                intermediate_size=int(raw["intermediate_size"]),
                layer_norm_eps=float(raw.get("layer_norm_eps", 1e-12)),
                hidden_act=str(raw.get("hidden_act", "gelu")),
            )
        except KeyError as e:
            raise ModelError(f"{path}: missing field {e.args[0]!r}") from None
        if config.hidden_act not in ("gelu", "gelu_new", "gelu_pytorch_tanh"):
            raise ModelError(f"{path}: hidden_act {config.hidden_act!r} is not supported")
        if config.hidden_size % config.num_heads:
            raise ModelError(f"{path}: hidden_size is not a multiple of num_attention_heads")
        return config


def load_safetensors(path: Path) -> dict[str, np.ndarray[Any, Any]]:
    """All tensors of a .safetensors file as numpy arrays; a ModelError says what is wrong."""
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    if not path.is_file():
        raise ModelError(f"{path}: no such file (a model directory needs model.safetensors)")
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as e:
        raise ModelError(f"{path}: not a valid safetensors file ({e})") from None


class _Layer:
    """One encoder layer: self-attention and the GELU MLP, each with a residual and LayerNorm."""

    def __init__(self, w: _Weights, i: int, config: BertConfig) -> None:
        p = f"encoder.layer.{i}."
        self.query = w.linear(p + "attention.self.query")
        self.key = w.linear(p + "attention.self.key")
        self.value = w.linear(p + "attention.self.value")
        self.attn_out = w.linear(p + "attention.output.dense")
        self.attn_norm = w.layer_norm(p + "attention.output.LayerNorm", config.layer_norm_eps)
        approximate: Literal["none", "tanh"] = "none" if config.hidden_act == "gelu" else "tanh"
        self.mlp = GELUMLP(
            w.linear(p + "intermediate.dense"), w.linear(p + "output.dense"), approximate
        )
        self.out_norm = w.layer_norm(p + "output.LayerNorm", config.layer_norm_eps)
        self.heads = config.num_heads

    def _heads(self, x: Tensor, batch: int, seq: int) -> Tensor:
        """[batch * seq, hidden] -> [batch, heads, seq, head_dim], contiguous (matmul's input)."""
        head_dim = int(x.shape[-1]) // self.heads
        return x.reshape(batch, seq, self.heads, head_dim).transpose(0, 2, 1, 3).contiguous()

    def __call__(self, x: Tensor, mask: Tensor, batch: int, seq: int) -> Tensor:
        q = self._heads(self.query(x), batch, seq)
        k = self._heads(self.key(x), batch, seq)
        v = self._heads(self.value(x), batch, seq)
        # Attention as two batched matmuls around a softmax rather than the fused SDPA kernel:
        # an encoder attends over short padded sequences, where the scores [batch, heads, seq,
        # seq] are small and the matmuls go to the device's GEMM (BLAS on the host device, 2.8x
        # faster than the fused kernel for MiniLM's 32 x 12 heads x 128 tokens).
        scale = float(int(q.shape[-1]) ** -0.5)
        scores = ops.add(ops.matmul(q, k, transpose_b=True, alpha=scale), mask)
        attn = ops.matmul(ops.softmax(scores), v)
        attn = attn.transpose(0, 2, 1, 3).contiguous().reshape(batch * seq, int(x.shape[-1]))
        x = self.attn_norm.add_and_norm(self.attn_out(attn), x)
        return self.out_norm.add_and_norm(self.mlp(x), x)


class _Weights:
    """Named weights of a safetensors file, moved to the device as they are used."""

    def __init__(self, ctx: Context, arrays: dict[str, np.ndarray[Any, Any]], source: Path) -> None:
        self.ctx = ctx
        self.arrays = arrays
        self.source = source

    def tensor(self, name: str) -> Tensor:
        for key in (name, "bert." + name):
            if key in self.arrays:
                return self.ctx.tensor(np.ascontiguousarray(self.arrays[key], dtype=np.float32))
        raise ModelError(f"{self.source}: missing tensor {name!r}")

    def linear(self, prefix: str) -> Linear:
        return Linear(self.tensor(prefix + ".weight"), self.tensor(prefix + ".bias"))

    def layer_norm(self, prefix: str, eps: float) -> LayerNorm:
        return LayerNorm(self.tensor(prefix + ".weight"), self.tensor(prefix + ".bias"), eps)


class BertModel:
    """The encoder: token ids -> last hidden states [batch, seq, hidden]."""

    def __init__(self, ctx: Context, directory: Path) -> None:
        self.ctx = ctx
        self.config = BertConfig.load(directory / "config.json")
        weights = _Weights(ctx, load_safetensors(directory / "model.safetensors"), directory)
        self.word = Embedding(weights.tensor("embeddings.word_embeddings.weight"))
        self.position = Embedding(weights.tensor("embeddings.position_embeddings.weight"))
        self.token_type = Embedding(weights.tensor("embeddings.token_type_embeddings.weight"))
        self.max_positions = int(self.position.table.shape[0])
        self.embed_norm = weights.layer_norm("embeddings.LayerNorm", self.config.layer_norm_eps)
        self.layers = [_Layer(weights, i, self.config) for i in range(self.config.num_layers)]

    def __call__(self, ids: Tensor, type_ids: Tensor, positions: Tensor, mask: Tensor) -> Tensor:
        """ids, type_ids: i32 [batch, seq]; positions: i32 [seq]; mask: additive f32 [batch, 1, 1,
        seq] (0 for tokens, a large negative number for padding). Returns [batch * seq, hidden]."""
        batch, seq = (int(d) for d in ids.shape)
        x = ops.add(self.word(ids), self.token_type(type_ids))
        x = ops.add(x, self.position(positions))
        x = self.embed_norm(x).reshape(batch * seq, self.config.hidden_size)
        for layer in self.layers:
            x = layer(x, mask, batch, seq)
        return x
