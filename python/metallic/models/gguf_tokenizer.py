"""The tokenizer of a GGUF model, built from its metadata with the `tokenizers` library.

`tokenizer.ggml.model` says which: "gpt2" is byte-level BPE (Qwen2, Llama 3) with the
pre-tokenizer regex named by `tokenizer.ggml.pre`; "llama" is SentencePiece-style BPE over "▁"
with byte fallback (Llama 1/2, Mistral), its merges derived from the token scores. Control and
user-defined tokens are special: written in a prompt (`<|im_end|>`) they encode to their id.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from metallic.models.errors import ModelError

# Pre-tokenizer regexes by `tokenizer.ggml.pre`, as llama.cpp's llama-vocab.cpp names them.
_GPT2_REGEX = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"
_PRE_REGEX = {
    "default": _GPT2_REGEX,
    "gpt2": _GPT2_REGEX,
    "qwen2": (
        r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
        r"|\s*[\r\n]+|\s+(?!\S)|\s+"
    ),
    "llama-bpe": (
        r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
        r"|\s*[\r\n]+|\s+(?!\S)|\s+"
    ),
}
_CONTROL, _USER_DEFINED = 3, 4


class GGUFTokenizer:
    """`encode(text) -> list[int]`, `decode(ids) -> str`, with the model's special tokens."""

    def __init__(self, metadata: dict[str, Any], source: Path) -> None:
        from tokenizers import AddedToken

        kind = metadata.get("tokenizer.ggml.model")
        tokens = metadata.get("tokenizer.ggml.tokens")
        if kind is None or tokens is None:
            raise ModelError(
                f"{source}: no tokenizer in the metadata (tokenizer.ggml.model/tokens)"
            )
        self.tokens: list[str] = list(tokens)
        types = list(metadata.get("tokenizer.ggml.token_type", [1] * len(self.tokens)))
        if kind == "gpt2":
            self._tokenizer = self._byte_level_bpe(metadata, source)
        elif kind == "llama":
            self._tokenizer = self._sentencepiece_bpe(metadata)
        else:
            raise ModelError(f"{source}: tokenizer model {kind!r} is not supported (gpt2, llama)")
        special = [
            AddedToken(t, special=True, normalized=False)
            for t, ty in zip(self.tokens, types, strict=False)
            if ty in (_CONTROL, _USER_DEFINED)
        ]
        self._tokenizer.add_special_tokens(special)
        self.special_ids = {i for i, ty in enumerate(types) if ty == _CONTROL}
        self.bos_id: int | None = metadata.get("tokenizer.ggml.bos_token_id")
        self.eos_id: int | None = metadata.get("tokenizer.ggml.eos_token_id")
        default_bos = kind == "llama"
        self.add_bos = bool(metadata.get("tokenizer.ggml.add_bos_token", default_bos))

    def _byte_level_bpe(self, metadata: dict[str, Any], source: Path) -> Any:
        from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers

        merges = [tuple(m.split(" ", 1)) for m in metadata.get("tokenizer.ggml.merges", [])]
        vocab = {t: i for i, t in enumerate(self.tokens)}
        tokenizer = Tokenizer(models.BPE(vocab, merges, ignore_merges=False))
        pre = str(metadata.get("tokenizer.ggml.pre", "default"))
        if pre not in _PRE_REGEX:
            raise ModelError(
                f"{source}: pre-tokenizer {pre!r} is not supported ({', '.join(sorted(_PRE_REGEX))})"
            )
        tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
            [
                pre_tokenizers.Split(Regex(_PRE_REGEX[pre]), behavior="isolated"),
                pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
            ]
        )
        tokenizer.decoder = decoders.ByteLevel()
        return tokenizer

    def _sentencepiece_bpe(self, metadata: dict[str, Any]) -> Any:
        from tokenizers import Tokenizer, decoders, models, normalizers

        scores = list(metadata.get("tokenizer.ggml.scores", [0.0] * len(self.tokens)))
        vocab = {t: i for i, t in enumerate(self.tokens)}
        # SentencePiece merges the pair whose merged piece scores highest: a merge (a, b) for
        # every piece a+b of the vocabulary whose halves are pieces too, by the piece's score.
        ranked = []
        for piece, score in zip(self.tokens, scores, strict=False):
            for cut in range(1, len(piece)):
                left, right = piece[:cut], piece[cut:]
                if left in vocab and right in vocab:
                    ranked.append((-score, vocab[left], vocab[right], left, right))
        ranked.sort()
        merges = [(left, right) for _, _, _, left, right in ranked]
        unk = next((t for t in self.tokens if t == "<unk>"), None)
        tokenizer = Tokenizer(
            models.BPE(vocab, merges, unk_token=unk, byte_fallback=True, fuse_unk=True)
        )
        prefix = bool(metadata.get("tokenizer.ggml.add_space_prefix", True))
        steps = [normalizers.Prepend("▁")] if prefix else []
        tokenizer.normalizer = normalizers.Sequence([*steps, normalizers.Replace(" ", "▁")])
        strip = [decoders.Strip(" ", 1, 0)] if prefix else []
        tokenizer.decoder = decoders.Sequence(
            [decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(), *strip]
        )
        return tokenizer

    @property
    def vocab_size(self) -> int:
        return len(self.tokens)

    def encode(self, text: str, add_bos: bool | None = None) -> list[int]:
        """Token ids of `text`; special tokens written in it are parsed as special tokens."""
        ids: list[int] = self._tokenizer.encode(text, add_special_tokens=False).ids
        bos = self.add_bos if add_bos is None else add_bos
        return [self.bos_id, *ids] if bos and self.bos_id is not None else ids

    def decode(self, ids: Sequence[int], skip_special: bool = True) -> str:
        """The text of `ids` (control tokens left out unless skip_special is False)."""
        return str(self._tokenizer.decode(list(ids), skip_special_tokens=skip_special))
