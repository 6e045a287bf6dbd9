"""Tiny random-weight Qwen2 and Llama models built with transformers (no download) and written to
GGUF with gguf.GGUFWriter under the metadata keys and tensor names llama.cpp's converter uses:
the fixtures of the model tests and of `metallic bench`. Needs torch and transformers (and
sentencepiece for a Llama vocabulary), imported when used."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

QWEN2_REGEX = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)
SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
CORPUS = [
    "The quick brown fox jumps over the lazy dog.",
    "Hello world! Hello metallic, hello Metal kernels on Apple GPUs.",
    "Ünïcödé text: naïve café, 日本語のテキスト, emoji 🙂 and tabs\tand\nnewlines.",
    "numbers 12345 67890 and    spaces   between words",
] * 4
VOCAB = 320  # byte-level BPE
SENTENCEPIECE_VOCAB = 400  # 3 control tokens, 256 byte tokens, characters and merges
HIDDEN, FFN, LAYERS, HEADS, KV_HEADS, CONTEXT = 64, 128, 2, 4, 2, 128


def byte_level_tokenizer() -> Any:
    """A byte-level BPE tokenizer (Qwen2's pre-tokenizer) trained on a small corpus."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(QWEN2_REGEX), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB - len(SPECIALS),
        special_tokens=[],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(CORPUS, trainer)
    tok.add_special_tokens(SPECIALS)
    return tok


def sentencepiece_model() -> bytes:
    """A SentencePiece BPE model (the serialized proto) trained on the corpus with Llama's
    settings: byte fallback, digits split, a dummy prefix, whitespace kept as it is."""
    import io

    import sentencepiece as spm

    proto = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(CORPUS),
        model_writer=proto,
        vocab_size=SENTENCEPIECE_VOCAB,
        model_type="bpe",
        byte_fallback=True,
        split_digits=True,
        add_dummy_prefix=True,
        remove_extra_whitespaces=False,
        allow_whitespace_only_pieces=True,
        normalization_rule_name="identity",
        character_coverage=1.0,
        hard_vocab_limit=False,
        minloglevel=2,
    )
    return proto.getvalue()


def vocab_size(tokenizer: Any) -> int:
    """The number of tokens of a tokenizers.Tokenizer or a SentencePiece model proto."""
    if isinstance(tokenizer, bytes):
        import sentencepiece as spm

        return int(spm.SentencePieceProcessor(model_proto=tokenizer).get_piece_size())
    return int(tokenizer.get_vocab_size())


def _merges(tok: Any) -> list[str]:
    merges = json.loads(tok.to_str())["model"]["merges"]
    return [m if isinstance(m, str) else " ".join(m) for m in merges]


def hf_model(arch: str, vocab: int, seed: int = 0) -> Any:
    """A transformers Qwen2ForCausalLM or LlamaForCausalLM with random weights."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM, Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(seed)
    common: dict[str, Any] = dict(
        vocab_size=vocab,
        hidden_size=HIDDEN,
        intermediate_size=FFN,
        num_hidden_layers=LAYERS,
        num_attention_heads=HEADS,
        num_key_value_heads=KV_HEADS,
        max_position_embeddings=CONTEXT,
        rope_theta=10000.0,
        rms_norm_eps=1e-6,
        tie_word_embeddings=False,
        initializer_range=0.2,  # larger than the default, so the top token is well separated
    )
    model: Any
    if arch == "qwen2":
        model = Qwen2ForCausalLM(Qwen2Config(**common))
    else:
        model = LlamaForCausalLM(LlamaConfig(**common, attention_bias=False, mlp_bias=False))
    return model.eval()


def _permute_for_llama_cpp(w: np.ndarray[Any, Any], heads: int) -> np.ndarray[Any, Any]:
    """llama.cpp stores Llama's Q/K rows so that rotary pairs are adjacent: within each head,
    row j of the first half and row j of the second half become rows 2j and 2j+1."""
    rows = w.shape[0]
    pairs = w.reshape(heads, 2, rows // heads // 2, *w.shape[1:]).swapaxes(1, 2)
    out: np.ndarray[Any, Any] = pairs.reshape(w.shape)
    return out


def _add_byte_level_vocab(w: Any, tok: Any) -> None:
    """A tokenizers.Tokenizer as llama.cpp writes Qwen2's: model gpt2, pre qwen2, merges."""
    vocab = tok.get_vocab()
    tokens = [t for t, _ in sorted(vocab.items(), key=lambda kv: kv[1])]
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("qwen2")
    w.add_token_list(tokens)
    w.add_token_types([3 if t in SPECIALS else 1 for t in tokens])
    w.add_token_merges(_merges(tok))
    w.add_eos_token_id(vocab["<|im_end|>"])
    w.add_bos_token_id(vocab["<|endoftext|>"])
    w.add_add_bos_token(False)
    w.add_chat_template(
        "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n"
        "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
    )


def _add_sentencepiece_vocab(w: Any, proto: bytes) -> None:
    """A SentencePiece model as llama.cpp's converter writes Llama's: model llama, every piece
    with its score and type (normal 1, unknown 2, control 3, unused 5, byte 6)."""
    import sentencepiece as spm

    sp = spm.SentencePieceProcessor(model_proto=proto)
    tokens, scores, types = [], [], []
    for i in range(sp.get_piece_size()):
        tokens.append(sp.id_to_piece(i))
        scores.append(sp.get_score(i))
        if sp.is_unknown(i):
            types.append(2)
        elif sp.is_control(i):
            types.append(3)
        elif sp.is_unused(i):
            types.append(5)
        elif sp.is_byte(i):
            types.append(6)
        else:
            types.append(1)
    w.add_tokenizer_model("llama")
    w.add_tokenizer_pre("default")
    w.add_token_list(tokens)
    w.add_token_scores(scores)
    w.add_token_types(types)
    w.add_bos_token_id(sp.bos_id())
    w.add_eos_token_id(sp.eos_id())
    w.add_unk_token_id(sp.unk_id())
    w.add_add_bos_token(True)
    w.add_add_eos_token(False)
    w.add_chat_template(
        "{{ bos_token }}{% for m in messages %}[INST] {{ m['content'] }} [/INST]{% endfor %}"
    )


def write_gguf(model: Any, tokenizer: Any, arch: str, path: Path, weight_type: str) -> Path:
    """Writes `model` to `path` with its 2-d weights as F32, F16, BF16, Q8_0 or Q4_0 (norms and
    biases F32, as llama.cpp writes them) and `tokenizer`'s vocabulary: a tokenizers.Tokenizer
    (byte-level BPE) or a SentencePiece model proto (bytes)."""
    import gguf
    import torch

    qtype = gguf.GGMLQuantizationType[weight_type]
    w = gguf.GGUFWriter(str(path), arch)
    w.add_context_length(CONTEXT)
    w.add_embedding_length(HIDDEN)
    w.add_block_count(LAYERS)
    w.add_feed_forward_length(FFN)
    w.add_head_count(HEADS)
    w.add_head_count_kv(KV_HEADS)
    w.add_rope_freq_base(10000.0)
    w.add_layer_norm_rms_eps(1e-6)
    if isinstance(tokenizer, bytes):
        _add_sentencepiece_vocab(w, tokenizer)
    else:
        _add_byte_level_vocab(w, tokenizer)

    def put(name: str, tensor: Any) -> None:
        a = tensor.detach().float().numpy()
        if a.ndim == 1 or qtype == gguf.GGMLQuantizationType.F32:
            w.add_tensor(name, np.ascontiguousarray(a, dtype=np.float32))
        elif qtype == gguf.GGMLQuantizationType.F16:
            w.add_tensor(name, a.astype(np.float16))
        else:  # BF16 and the block quantizations: raw bytes of that type
            w.add_tensor(name, gguf.quants.quantize(a, qtype), raw_dtype=qtype)

    sd = model.state_dict()
    put("token_embd.weight", sd["model.embed_tokens.weight"])
    put("output_norm.weight", sd["model.norm.weight"])
    put("output.weight", sd["lm_head.weight"])
    names = {
        "attn_norm": "input_layernorm",
        "ffn_norm": "post_attention_layernorm",
        "attn_q": "self_attn.q_proj",
        "attn_k": "self_attn.k_proj",
        "attn_v": "self_attn.v_proj",
        "attn_output": "self_attn.o_proj",
        "ffn_gate": "mlp.gate_proj",
        "ffn_up": "mlp.up_proj",
        "ffn_down": "mlp.down_proj",
    }
    for i in range(LAYERS):
        for ours, theirs in names.items():
            for suffix in ("weight", "bias"):
                key = f"model.layers.{i}.{theirs}.{suffix}"
                if key not in sd:
                    continue
                t = sd[key]
                if arch == "llama" and ours in ("attn_q", "attn_k"):
                    heads = HEADS if ours == "attn_q" else KV_HEADS
                    t = torch.from_numpy(_permute_for_llama_cpp(t.float().numpy(), heads))
                put(f"blk.{i}.{ours}.{suffix}", t)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path
