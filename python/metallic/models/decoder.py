"""Decoder-only language models from GGUF — Qwen2 (Qwen2.5) and Llama — run with metallic ops,
with a KV cache for decoding and sampling on the device."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from metallic import ops
from metallic._core import Context, Tensor
from metallic.models.errors import ModelError
from metallic.models.gguf_file import GGUFFile
from metallic.models.gguf_tokenizer import GGUFTokenizer
from metallic.nn import Attention, Embedding, KVCache, Linear, RMSNorm, RoPE, SwiGLUMLP

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


class _Weights:
    """Tensors of a GGUF file moved to the device, counted for a progress callback
    `progress(loaded, total)` (total: the file's tensors, one more when the head reuses the
    embedding table)."""

    def __init__(
        self, f: GGUFFile, ctx: Context, progress: Callable[[int, int], None] | None
    ) -> None:
        self.f, self.ctx, self.progress = f, ctx, progress
        self.loaded = 0
        self.total = f.tensor_count + (0 if f.has_tensor("output.weight") else 1)

    def _loaded(self, t: Tensor) -> Tensor:
        """`t`, counted (and reported) as loaded."""
        self.loaded += 1
        if self.progress is not None:
            self.progress(self.loaded, self.total)
        return t

    def matrix(self, name: str, gatherable: bool = False) -> Tensor:
        """A weight matrix in its file dtype (see GGUFFile.tensor)."""
        return self._loaded(self.f.tensor(self.ctx, name, gatherable))

    def vector(self, name: str) -> Tensor:
        """A norm weight or bias in f32, the activations' dtype (llama.cpp writes them F32;
        anything else is converted on the device, they are small)."""
        t = self.f.tensor(self.ctx, name)
        return self._loaded(t if t.dtype == "f32" else ops.astype(t, "f32"))

    def linear(self, prefix: str) -> Linear:
        """`prefix`.weight and, if the file has it, `prefix`.bias (Qwen2's Q/K/V)."""
        bias = f"{prefix}.bias"
        return Linear(
            self.matrix(f"{prefix}.weight"),
            self.vector(bias) if self.f.has_tensor(bias) else None,
        )


class _Block:
    """One transformer block: RMSNorm → attention (GQA, RoPE, KV cache) → RMSNorm → SwiGLU MLP."""

    def __init__(self, w: _Weights, i: int, c: DecoderConfig, max_context: int) -> None:
        def linear(name: str) -> Linear:
            return w.linear(f"blk.{i}.{name}")

        self.attn_norm = RMSNorm(w.vector(f"blk.{i}.attn_norm.weight"), c.rms_eps)
        # llama.cpp's converter stores Llama's Q/K rows interleaved (rotate adjacent pairs);
        # Qwen2 keeps Hugging Face's half split.
        rope = RoPE(c.rope_theta, "gptj" if c.arch == "llama" else "neox")
        self.attn = Attention(
            linear("attn_q"),
            linear("attn_k"),
            linear("attn_v"),
            linear("attn_output"),
            c.heads,
            c.kv_heads,
            c.head_dim,
            rope,
            KVCache(w.ctx, c.kv_heads, c.head_dim, max_context),
        )
        self.ffn_norm = RMSNorm(w.vector(f"blk.{i}.ffn_norm.weight"), c.rms_eps)
        self.mlp = SwiGLUMLP(linear("ffn_gate"), linear("ffn_up"), linear("ffn_down"))

    def __call__(self, x: Tensor, start: int) -> Tensor:
        """x [n, hidden] at positions start.. after the block (its keys and values cached)."""
        x = ops.add(x, self.attn(self.attn_norm(x), start))
        return ops.add(x, self.mlp(self.ffn_norm(x)))


def _stop_prefix_length(text: str, stops: Sequence[str]) -> int:
    """The length of the longest tail of `text` that is the beginning of a stop string."""
    return max(
        (k for s in stops for k in range(1, min(len(s), len(text) + 1)) if text.endswith(s[:k])),
        default=0,
    )


@dataclass
class GenerationStats:
    """Timing of the last generate_ids: the prompt's tokens, seconds to the first generated
    token (prefill), and the tokens and seconds after it (decode)."""

    prompt_tokens: int = 0
    prefill_seconds: float = 0.0
    generated_tokens: int = 0
    decode_seconds: float = 0.0

    def record_token(self, elapsed: float) -> None:
        """One more token sampled, `elapsed` seconds after generation began."""
        if self.generated_tokens == 0:
            self.prefill_seconds = elapsed
        else:
            self.decode_seconds = elapsed - self.prefill_seconds
        self.generated_tokens += 1

    def summary(self) -> str:
        """'N prompt tokens; prefill X tok/s; decode Y tok/s (M tokens)'."""
        prefill = self.prompt_tokens / max(self.prefill_seconds, 1e-9)
        decode = (self.generated_tokens - 1) / max(self.decode_seconds, 1e-9)
        decoded = f"{decode:.1f} tok/s" if self.generated_tokens > 1 else "-"
        return (
            f"{self.prompt_tokens} prompt tokens; prefill {prefill:.1f} tok/s; "
            f"decode {decoded} ({self.generated_tokens} tokens)"
        )


class Decoder:
    """A GGUF decoder: `tokenizer`, `logits(ids)`, `generate(...)`, `generate_ids(...)`."""

    def __init__(
        self,
        path: str | Path,
        ctx: Context | None = None,
        device: str = "auto",
        max_context: int = 4096,
        progress: Callable[[int, int], None] | None = None,
    ) -> None:
        """Reads `path`; `progress(loaded, total)` is called as each tensor reaches the device."""
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
        c, w = self.config, _Weights(f, self.ctx, progress)
        self.embed = Embedding(w.matrix("token_embd.weight", gatherable=True))
        self.blocks = [_Block(w, i, c, self.max_context) for i in range(c.layers)]
        self.norm = RMSNorm(w.vector("output_norm.weight"), c.rms_eps)
        # Models with tied embeddings (Qwen2.5-0.5B) have no output.weight: the head multiplies
        # by the embedding table, read again in its file dtype (quantized stays quantized).
        head = "output.weight" if f.has_tensor("output.weight") else "token_embd.weight"
        self.lm_head = Linear(w.matrix(head))
        self.position = 0  # tokens in the KV cache
        self.stats = GenerationStats()

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
            x = block(x, start)
        self.position = start + n
        return self.norm(x)

    def logits(self, token_ids: Sequence[int], start: int = 0) -> Tensor:
        """Logits [len(token_ids), vocab] of every position: of a fresh sequence (start=0), or of
        token_ids following the first `start` tokens already in the KV cache (decoding)."""
        if not token_ids:
            raise ModelError("logits() needs at least one token id")
        if not 0 <= start <= self.position:
            raise ModelError(
                f"logits(start={start}): the KV cache holds {self.position} tokens (0..{self.position})"
            )
        return self.lm_head(self._forward(token_ids, start))

    def generate_ids(
        self,
        prompt_ids: Sequence[int],
        max_tokens: int = 128,
        temperature: float = 0.0,
        top_k: int = 0,
        top_p: float = 1.0,
        seed: int = 0,
    ) -> Iterator[int]:
        """Token ids after `prompt_ids`, one at a time, until an end-of-sequence id, max_tokens or
        the end of the context; `stats` times it."""
        if not prompt_ids:
            raise ModelError("generate needs a non-empty prompt")
        if len(prompt_ids) > self.max_context:
            raise ModelError(
                f"{self.path}: the prompt has {len(prompt_ids)} tokens, the context holds "
                f"{self.max_context} (shorten the prompt)"
            )
        self.stats = GenerationStats(prompt_tokens=len(prompt_ids))
        begin = time.perf_counter()
        hidden = self._forward(prompt_ids, 0)
        for step in range(max_tokens):
            last = hidden[-1:, :] if int(hidden.shape[0]) > 1 else hidden
            logits = self.lm_head(last.contiguous())
            token = ops.sample(
                logits, temperature=temperature, top_k=top_k, top_p=top_p, seed=seed, step=step
            )
            tid = int(token.numpy().reshape(-1)[0])
            self.stats.record_token(time.perf_counter() - begin)
            if tid in self.stop_ids:
                return
            yield tid
            if step + 1 == max_tokens or self.position == self.max_context:
                return
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
        stops = [s for s in stop if s]
        produced: list[int] = []
        text = emitted = ""
        for tid in self.generate_ids(ids, max_tokens, temperature, top_k, top_p, seed):
            produced.append(tid)
            text = self.tokenizer.decode(produced)
            if text.endswith("\ufffd"):
                continue  # an incomplete UTF-8 sequence: wait for the next token
            cut = min((text.find(s) for s in stops if s in text), default=-1)
            if cut >= 0:
                if cut > len(emitted):
                    yield text[len(emitted) : cut]
                return
            # A tail that may begin a stop string waits until the next tokens decide.
            ready = len(text) - _stop_prefix_length(text, stops)
            if ready > len(emitted):
                yield text[len(emitted) : ready]
                emitted = text[:ready]
        if len(text) > len(emitted):
            yield text[len(emitted) :]

    def prompt_ids(self, prompt: str, chat: bool = False) -> list[int]:
        """Token ids of `prompt`, as one user message under the chat template if `chat` (whose
        text may already start with the BOS token, which is then not added again)."""
        if not chat:
            return self.tokenizer.encode(prompt)
        text = self.apply_chat_template(prompt)
        bos = self.tokenizer.bos_id
        has_bos = bos is not None and text.startswith(self.tokenizer.tokens[bos])
        return self.tokenizer.encode(text, add_bos=False if has_bos else None)

    def apply_chat_template(self, user_message: str) -> str:
        """The prompt for one user message under the model's chat template (jinja2, with the
        variables and the raise_exception helper Hugging Face's templates use)."""
        if not self.chat_template:
            raise ModelError(f"{self.path}: no tokenizer.chat_template in the metadata")
        import jinja2

        def raise_exception(message: str) -> None:
            raise ModelError(f"{self.path}: the chat template says: {message}")

        bos = (
            self.tokenizer.tokens[self.tokenizer.bos_id]
            if self.tokenizer.bos_id is not None
            else ""
        )
        try:
            env = jinja2.Environment(trim_blocks=True, lstrip_blocks=True)
            template = env.from_string(self.chat_template)
            return template.render(
                messages=[{"role": "user", "content": user_message}],
                add_generation_prompt=True,
                bos_token=bos,
                eos_token=self.tokenizer.tokens[min(self.stop_ids)] if self.stop_ids else "",
                raise_exception=raise_exception,
            )
        except jinja2.TemplateError as e:
            raise ModelError(
                f"{self.path}: tokenizer.chat_template is not a template metallic can render ({e})"
            ) from None
