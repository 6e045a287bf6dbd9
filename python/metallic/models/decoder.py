"""Decoder-only language models from GGUF — Qwen2 (Qwen2.5) and Llama — run with metallic ops,
with a KV cache for decoding and sampling on the device."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from metallic import ops
from metallic._core import Context, Tensor
from metallic.models.errors import ModelError
from metallic.models.gguf_file import GGUFFile
from metallic.models.gguf_tokenizer import GGUFTokenizer
from metallic.nn import Embedding, Linear, RMSNorm

SUPPORTED_ARCHITECTURES = ("qwen2", "llama")


@dataclass(frozen=True)
class DecoderConfig:
    """The hyperparameters a forward pass needs, from `<arch>.*` metadata."""

    arch: str
    layers: int
    hidden: int
    ffn: int
    heads: int
    kv_heads: int
    head_dim: int
    rope_theta: float
    rms_eps: float
    context_length: int

    @staticmethod
    def from_gguf(f: GGUFFile) -> DecoderConfig:
        arch = str(f.get("general.architecture"))
        if arch not in SUPPORTED_ARCHITECTURES:
            raise ModelError(
                f"{f.path}: architecture {arch!r} is not supported ({', '.join(SUPPORTED_ARCHITECTURES)})"
            )
        heads = int(f.get(f"{arch}.attention.head_count"))
        hidden = int(f.get(f"{arch}.embedding_length"))
        return DecoderConfig(
            arch=arch,
            layers=int(f.get(f"{arch}.block_count")),
            hidden=hidden,
            ffn=int(f.get(f"{arch}.feed_forward_length")),
            heads=heads,
            kv_heads=int(f.get(f"{arch}.attention.head_count_kv", heads)),
            head_dim=int(f.get(f"{arch}.attention.key_length", hidden // heads)),
            rope_theta=float(f.get(f"{arch}.rope.freq_base", 10000.0)),
            rms_eps=float(f.get(f"{arch}.attention.layer_norm_rms_epsilon", 1e-6)),
            context_length=int(f.get(f"{arch}.context_length", 2048)),
        )


class _Block:
    """One transformer block: RMSNorm → attention (GQA, RoPE, KV cache) → RMSNorm → SwiGLU MLP."""

    def __init__(
        self, f: GGUFFile, ctx: Context, i: int, c: DecoderConfig, max_context: int
    ) -> None:
        def linear(name: str) -> Linear:
            bias = f"blk.{i}.{name}.bias"
            return Linear(
                f.tensor(ctx, f"blk.{i}.{name}.weight"),
                f.tensor(ctx, bias) if f.has_tensor(bias) else None,
            )

        self.attn_norm = RMSNorm(f.tensor(ctx, f"blk.{i}.attn_norm.weight"), c.rms_eps)
        self.q, self.k, self.v = linear("attn_q"), linear("attn_k"), linear("attn_v")
        self.o = linear("attn_output")
        self.ffn_norm = RMSNorm(f.tensor(ctx, f"blk.{i}.ffn_norm.weight"), c.rms_eps)
        self.gate, self.up, self.down = linear("ffn_gate"), linear("ffn_up"), linear("ffn_down")
        self.c = c
        # llama.cpp's converter stores Llama's Q/K rows interleaved (rotate adjacent pairs);
        # Qwen2 keeps Hugging Face's half split.
        self.rope_style: Literal["neox", "gptj"] = "gptj" if c.arch == "llama" else "neox"
        cache_shape = (1, c.kv_heads, max_context, c.head_dim)
        self.k_cache = ctx.zeros(cache_shape)
        self.v_cache = ctx.zeros(cache_shape)

    def _heads(self, x: Tensor, n: int, heads: int, start: int, rope: bool) -> Tensor:
        """[n, heads * head_dim] -> [1, heads, n, head_dim] (a view), rotated for positions
        start.."""
        x = x.reshape(1, n, heads, self.c.head_dim)
        if rope:
            x = ops.rope(
                x, offset=start, theta=self.c.rope_theta, style=self.rope_style, layout="bshd"
            )
        return x.transpose(0, 2, 1, 3)

    def __call__(self, x: Tensor, n: int, start: int) -> Tensor:
        c = self.c
        h = self.attn_norm(x)
        q = self._heads(self.q(h), n, c.heads, start, rope=True)
        # Attention reads q, and kv_cache_write reads keys and values, as strided views.
        k = self._heads(self.k(h), n, c.kv_heads, start, rope=True)
        v = self._heads(self.v(h), n, c.kv_heads, start, rope=False)
        # The cache's filled prefix [0, start + n) as strided views, read by attention in place.
        keys = ops.kv_cache_write(self.k_cache, k, start)
        values = ops.kv_cache_write(self.v_cache, v, start)
        attn = ops.scaled_dot_product_attention(q, keys, values, causal=True)
        attn = attn.transpose(0, 2, 1, 3).contiguous().reshape(n, c.heads * c.head_dim)
        x = ops.add(x, self.o(attn))
        h = self.ffn_norm(x)
        return ops.add(x, self.down(ops.swiglu(self.gate(h), self.up(h))))


class Decoder:
    """A GGUF decoder: `tokenizer`, `logits(ids)`, `generate(...)`, `generate_ids(...)`."""

    def __init__(
        self,
        path: str | Path,
        ctx: Context | None = None,
        device: str = "auto",
        max_context: int = 4096,
    ) -> None:
        f = GGUFFile(path)
        self.path = f.path
        self.config = DecoderConfig.from_gguf(f)
        self.tokenizer = GGUFTokenizer(f.metadata, f.path)
        self.ctx = ctx if ctx is not None else Context(device=device)
        self.chat_template: str | None = f.get("tokenizer.chat_template", None)
        eos = f.get("tokenizer.ggml.eos_token_id", None)
        eot = f.get("tokenizer.ggml.eot_token_id", None)
        self.stop_ids = {int(t) for t in (eos, eot) if t is not None}
        self.max_context = min(max_context, self.config.context_length)
        c, ctx_ = self.config, self.ctx
        self.embed = Embedding(f.tensor(ctx_, "token_embd.weight", dequantize=True))
        self.blocks = [_Block(f, ctx_, i, c, self.max_context) for i in range(c.layers)]
        self.norm = RMSNorm(f.tensor(ctx_, "output_norm.weight"), c.rms_eps)
        head = "output.weight" if f.has_tensor("output.weight") else "token_embd.weight"
        self.lm_head = Linear(f.tensor(ctx_, head))
        self.position = 0  # tokens in the KV cache

    def _forward(self, ids: Sequence[int], start: int) -> Tensor:
        """Hidden states [len(ids), hidden] after the final norm, for positions start.."""
        n = len(ids)
        if start + n > self.max_context:
            raise ModelError(
                f"{self.path}: {start + n} tokens exceed the context of {self.max_context} "
                "(shorten the prompt or max_tokens)"
            )
        x = self.embed(self.ctx.tensor(np.asarray(ids, dtype=np.int32)))
        for block in self.blocks:
            x = block(x, n, start)
        self.position = start + n
        return self.norm(x)

    def logits(self, token_ids: Sequence[int]) -> Tensor:
        """Logits [len(token_ids), vocab] of a fresh sequence (every position)."""
        if not token_ids:
            raise ModelError("logits() needs at least one token id")
        return self.lm_head(self._forward(token_ids, 0))

    def generate_ids(
        self,
        prompt_ids: Sequence[int],
        max_tokens: int = 128,
        temperature: float = 0.0,
        top_k: int = 0,
        top_p: float = 1.0,
        seed: int = 0,
    ) -> Iterator[int]:
        """Token ids after `prompt_ids`, one at a time, until an end-of-sequence id or max_tokens."""
        if not prompt_ids:
            raise ModelError("generate needs a non-empty prompt")
        hidden = self._forward(prompt_ids, 0)
        for step in range(max_tokens):
            last = hidden[-1:, :] if int(hidden.shape[0]) > 1 else hidden
            logits = self.lm_head(last.contiguous())
            token = ops.sample(
                logits, temperature=temperature, top_k=top_k, top_p=top_p, seed=seed, step=step
            )
            tid = int(token.numpy().reshape(-1)[0])
            if tid in self.stop_ids:
                return
            yield tid
            if step + 1 < max_tokens:
                hidden = self._forward([tid], self.position)

    def generate(
        self,
        prompt: str | Sequence[int],
        max_tokens: int = 128,
        temperature: float = 0.0,
        top_k: int = 0,
        top_p: float = 1.0,
        seed: int = 0,
        stop: Sequence[str] = (),
    ) -> Iterator[str]:
        """Text pieces as they are produced; ends at an end-of-sequence token, a `stop` string
        (not included) or max_tokens. Temperature 0 is greedy."""
        ids = self.tokenizer.encode(prompt) if isinstance(prompt, str) else list(prompt)
        produced: list[int] = []
        emitted = ""
        for tid in self.generate_ids(ids, max_tokens, temperature, top_k, top_p, seed):
            produced.append(tid)
            text = self.tokenizer.decode(produced)
            if text.endswith("\ufffd"):
                continue  # an incomplete UTF-8 sequence: wait for the next token
            cut = min((text.find(s) for s in stop if s and s in text), default=-1)
            if cut >= 0:
                if cut > len(emitted):
                    yield text[len(emitted) : cut]
                return
            if len(text) > len(emitted):
                yield text[len(emitted) :]
                emitted = text

    def apply_chat_template(self, user_message: str) -> str:
        """The prompt for one user message under the model's chat template (jinja2)."""
        if not self.chat_template:
            raise ModelError(f"{self.path}: no tokenizer.chat_template in the metadata")
        import jinja2

        env = jinja2.Environment(trim_blocks=True, lstrip_blocks=True)
        template = env.from_string(self.chat_template)
        bos = (
            self.tokenizer.tokens[self.tokenizer.bos_id]
            if self.tokenizer.bos_id is not None
            else ""
        )
        return template.render(
            messages=[{"role": "user", "content": user_message}],
            add_generation_prompt=True,
            bos_token=bos,
            eos_token=self.tokenizer.tokens[min(self.stop_ids)] if self.stop_ids else "",
        )
