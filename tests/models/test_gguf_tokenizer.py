"""The tokenizers built from GGUF metadata against their references: the byte-level BPE (Qwen2)
against the tokenizers.Tokenizer it was written from, the SentencePiece one (Llama) against
sentencepiece itself, the tokenizer Llama's vocabulary comes from and llama.cpp reproduces.

Not transformers for SentencePiece: transformers 5's tokenizer for it (from a GGUF file or a
tokenizer.model) drops the dummy prefix before leading whitespace ("  x", " "), and around
special tokens it gives different ids depending on whether protobuf is installed."""

from __future__ import annotations

import re
from typing import Any

import pytest
from metallic.models import Decoder

STRINGS = [
    "Hello world!",
    "  leading and trailing spaces  ",
    "a  b   c",
    " ",
    "\n",
    "naïve café 日本語 🙂",
    "ßΩ你好: characters the vocabulary never saw",
    "tabs\tand\nnewlines\n\n",
    "numbers 12345",
    "",
]


def test_byte_level_bpe_matches_its_tokenizer(tiny: Any, tokenizers: dict[str, Any]) -> None:
    from transformers import PreTrainedTokenizerFast

    _, path = tiny("qwen2", "F32")
    ours = Decoder(path, device="host").tokenizer
    theirs = PreTrainedTokenizerFast(tokenizer_object=tokenizers["qwen2"])
    for s in [*STRINGS, "<|im_start|>user\nhi<|im_end|>"]:
        ids = theirs.encode(s, add_special_tokens=False)
        assert ours.encode(s) == ids, s
        assert ours.decode(ids, skip_special=False) == theirs.decode(ids), s
    assert ours.encode("<|im_end|>") == [tokenizers["qwen2"].token_to_id("<|im_end|>")]


@pytest.fixture(scope="module")
def llama_tokenizers(tiny: Any, tokenizers: dict[str, Any]) -> tuple[Any, Any]:
    """(ours, sentencepiece's processor of the model the GGUF file was written from)."""
    import sentencepiece as spm

    _, path = tiny("llama", "F32")
    ours = Decoder(path, device="host").tokenizer
    return ours, spm.SentencePieceProcessor(model_proto=tokenizers["llama"])


def test_sentencepiece_vocab_matches_sentencepiece(llama_tokenizers: tuple[Any, Any]) -> None:
    ours, sp = llama_tokenizers
    for s in STRINGS:
        ids = sp.encode(s)
        assert ours.encode(s, add_bos=False) == ids, s
        assert ours.decode(ids) == sp.decode(ids) == s, s
    assert ours.encode("Hi") == [sp.bos_id(), *sp.encode("Hi")]  # add_bos_token is true
    assert ours.decode([sp.bos_id(), *sp.encode("Hi"), sp.eos_id()]) == "Hi"


def test_sentencepiece_special_tokens_split_the_text_as_llama_cpp_does(
    llama_tokenizers: tuple[Any, Any],
) -> None:
    """Control tokens written in the text are parsed as tokens; each piece of text between them
    is tokenized on its own with the space prefix (llama.cpp's llama_tokenize_impl for SPM)."""
    ours, sp = llama_tokenizers
    specials = {"<s>": sp.bos_id(), "</s>": sp.eos_id()}
    for s in ["Hello<s>world</s>", "<s> hi", " </s>x", "</s>"]:
        expected: list[int] = []
        for piece in re.split("(<s>|</s>)", s):
            if piece in specials:
                expected.append(specials[piece])
            elif piece:
                expected += sp.encode(piece)
        assert ours.encode(s, add_bos=False) == expected, s
