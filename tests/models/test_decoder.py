"""GGUF decoders (Qwen2, Llama) against transformers on tiny random-weight models."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import metallic as mt
import numpy as np
import pytest
import torch
from metallic.models import Decoder, ModelError

PROMPT = [5, 17, 42, 99, 3, 250, 7, 61, 18]
ARCHS = ["qwen2", "llama"]


def _reference_logits(model: Any, ids: list[int]) -> np.ndarray[Any, Any]:
    with torch.no_grad():
        return model(torch.tensor([ids])).logits[0].float().numpy()


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("weight_type, tol", [("F32", 1e-3), ("F16", 5e-2)])
def test_prefill_logits_match_transformers(
    tiny: Any, arch: str, weight_type: str, tol: float
) -> None:
    model, path = tiny(arch, weight_type)
    dec = Decoder(path, device="host")
    got = dec.logits(PROMPT).numpy()
    np.testing.assert_allclose(got, _reference_logits(model, PROMPT), atol=tol, rtol=0)


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("weight_type, tol", [("F32", 1e-3), ("F16", 5e-2), ("BF16", 0.2)])
def test_every_decode_step_matches_transformers(
    tiny: Any, arch: str, weight_type: str, tol: float
) -> None:
    """Logits of each token fed through the KV cache equal transformers' over the whole text."""
    model, path = tiny(arch, weight_type)
    dec = Decoder(path, device="host")
    text = [*PROMPT, 11, 23, 200, 8]
    want = _reference_logits(model, text)
    steps = [dec.logits(PROMPT).numpy()]
    steps += [dec.logits([t], start=len(PROMPT) + i).numpy() for i, t in enumerate(text[9:])]
    np.testing.assert_allclose(np.concatenate(steps), want, atol=tol, rtol=0)


def _with_quantized_weights(model: Any, weight_type: str) -> Any:
    """A copy of `model` whose matrices went through `weight_type` and back (gguf.quants)."""
    import copy

    import gguf

    qtype = gguf.GGMLQuantizationType[weight_type]
    out = copy.deepcopy(model)
    with torch.no_grad():
        for p in out.parameters():
            if p.ndim == 2:
                w = p.numpy()
                back = gguf.quants.dequantize(gguf.quants.quantize(w, qtype), qtype)
                p.copy_(torch.from_numpy(back.reshape(w.shape)))
    return out


@pytest.mark.parametrize("arch", ARCHS)
def test_q8_0_agrees_on_the_top_token(tiny: Any, arch: str) -> None:
    """Teacher-forced: the top token at each position of a text, against transformers' f32."""
    model, path = tiny(arch, "Q8_0")
    ids = list(range(3, 60))
    got = Decoder(path, device="host").logits(ids).numpy().argmax(-1)
    want = _reference_logits(model, ids).argmax(-1)
    assert np.mean(got == want) >= 0.9


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("weight_type", ["Q8_0", "Q4_0"])
def test_quantized_weights_match_transformers_on_the_same_weights(
    tiny: Any, arch: str, weight_type: str
) -> None:
    """Against transformers with the weights quantized and dequantized by gguf, which leaves
    out the quantization's own error: on these random weights Q4_0 alone moves the top token
    at most positions (about a third agree with f32), so an f32 reference says nothing about
    the kernels there."""
    model, path = tiny(arch, weight_type)
    ids = list(range(3, 60))
    got = Decoder(path, device="host").logits(ids).numpy()
    want = _reference_logits(_with_quantized_weights(model, weight_type), ids)
    assert np.mean(got.argmax(-1) == want.argmax(-1)) >= 0.9
    np.testing.assert_allclose(got, want, atol=5e-2, rtol=0)


@pytest.mark.parametrize(
    "weight_type, dtype",
    [("F32", "f32"), ("F16", "f16"), ("BF16", "bf16"), ("Q8_0", "q8_0"), ("Q4_0", "q4_0")],
)
def test_weights_keep_their_file_dtype_on_the_device(
    tiny: Any, weight_type: str, dtype: str
) -> None:
    _, path = tiny("qwen2", weight_type)
    dec = Decoder(path, device="host")
    block = dec.blocks[0]
    attn = block.attn
    assert {lin.weight.dtype for lin in (attn.q, attn.k, attn.v, attn.o, block.mlp.down)} == {dtype}
    assert dec.lm_head.weight.dtype == dtype
    # Embedding rows are gathered, not multiplied: block-quantized tables become f16.
    assert dec.embed.table.dtype == (dtype if "q" not in dtype else "f16")
    assert block.attn_norm.weight.dtype == "f32"  # llama.cpp writes the 1-d tensors as F32


@pytest.mark.parametrize("arch", ARCHS)
def test_decode_with_the_cache_equals_full_recomputation(tiny: Any, arch: str) -> None:
    model, path = tiny(arch, "F32")
    dec = Decoder(path, device="host")
    generated = list(dec.generate_ids(PROMPT, max_tokens=6))
    full = _reference_logits(model, PROMPT + generated)
    # Teacher-forced: each generated token is the argmax of the full recomputation's logits.
    expected = full[len(PROMPT) - 1 : len(PROMPT) - 1 + len(generated)].argmax(-1)
    assert generated == expected.tolist()


@pytest.mark.parametrize("arch", ARCHS)
def test_greedy_generation_equals_transformers(tiny: Any, arch: str) -> None:
    model, path = tiny(arch, "F32")
    dec = Decoder(path, device="host")
    ours = list(dec.generate_ids(PROMPT, max_tokens=8))
    with torch.no_grad():
        out = model.generate(
            torch.tensor([PROMPT]),
            max_new_tokens=len(ours),
            do_sample=False,
            eos_token_id=None,
            pad_token_id=0,
        )
    assert ours == out[0, len(PROMPT) :].tolist()


def test_the_same_seed_gives_the_same_sampled_text(tiny: Any) -> None:
    _, path = tiny("qwen2", "F32")
    dec = Decoder(path, device="host")
    kwargs = dict(max_tokens=8, temperature=0.9, top_k=40, top_p=0.95)
    a = list(dec.generate_ids(PROMPT, seed=7, **kwargs))
    b = list(dec.generate_ids(PROMPT, seed=7, **kwargs))
    c = list(dec.generate_ids(PROMPT, seed=8, **kwargs))
    assert a == b
    assert a != c or len(a) < 3


def test_generate_streams_text_and_stops(tiny: Any) -> None:
    _, path = tiny("qwen2", "F32")
    dec = mt.models.load(path, device="host")
    assert isinstance(dec, Decoder)
    pieces = list(dec.generate("Hello world", max_tokens=6))
    text = "".join(pieces)
    assert text == dec.tokenizer.decode(
        list(dec.generate_ids(dec.tokenizer.encode("Hello world"), 6))
    )
    if len(text) > 2:
        stop = text[1:3]
        assert (
            "".join(dec.generate("Hello world", max_tokens=6, stop=[stop]))
            == text[: text.find(stop)]
        )


def test_bad_files_are_clear_errors(tmp_path: Path, tiny: Any) -> None:
    with pytest.raises(ModelError, match="no such file"):
        Decoder(tmp_path / "missing.gguf")
    junk = tmp_path / "junk.gguf"
    junk.write_bytes(b"GGUF" + b"\x00" * 10)
    with pytest.raises(ModelError, match="not a valid GGUF file"):
        Decoder(junk)
    _, path = tiny("qwen2", "F32")
    truncated = tmp_path / "truncated.gguf"
    truncated.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(ModelError, match="truncated.gguf"):
        Decoder(truncated)


def test_unsupported_architecture_is_named(gpt2_gguf: Path) -> None:
    with pytest.raises(ModelError, match="architecture 'gpt2' is not supported"):
        Decoder(gpt2_gguf)


def test_a_prompt_longer_than_the_context_is_an_error(tiny: Any) -> None:
    _, path = tiny("qwen2", "F32")
    dec = Decoder(path, device="host", max_context=16)
    with pytest.raises(ModelError, match="exceed the context of 16"):
        dec.logits(list(range(20)))
