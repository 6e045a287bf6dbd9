"""The `metallic` command: `metallic embed TEXT...`, `metallic generate MODEL.gguf PROMPT`,
`metallic bench`, `metallic info`, `metallic demo`, `metallic compile FILE`."""

from __future__ import annotations

import argparse
import contextlib
import re
import sys
import time
from pathlib import Path

import numpy as np

import metallic as mt


def info(ctx: mt.Context, graph: bool = False) -> None:
    """Prints the build's devices, the active device, ops and kernel libraries; with `graph`,
    every graph kernel's signature and dtype policies instead of the ops and libraries."""
    from metallic import _core

    print(f"metallic {mt.__version__}")
    print(f"devices in this build: {', '.join(_core.available_devices())}")
    print(f"active device: {ctx.device}")
    for key, value in sorted(ctx.device_info().items()):
        print(f"  {key}: {value}")
    if graph:
        graph_kernels()
        return
    print("ops:")
    for op in _core.op_infos():
        params = ", ".join(
            f"{n}: {t}" + (f" = {d}" if d is not None else "") for n, t, d, _ in op["params"]
        )
        print(f"  {op['name']}({params}) -> {op['returns']}  [{op['class_name']}]")
        print(f"      {op['doc']}")
    print("kernel libraries:")
    for lib, functions in _core.kernel_libraries().items():
        print(f"  {lib}: {', '.join(functions)}")


def graph_kernels() -> None:
    """Prints every graph kernel: its bindings with their axes, its dtype policies and notes."""
    print("graph kernels (the mpsgraph backend of their op):")
    for kernel in mt.graph_kernels():
        print(f"  {kernel['name']}")
        for role in ("inputs", "outputs"):
            for b in kernel[role]:
                optional = ", optional" if b["optional"] else ""
                print(f"    {role[:-1]:6} {b['name']}: {b['axes']}{optional} -- {b['doc']}")
        print(f"    policies: {'; '.join(kernel['policies'])}")
        for note in kernel["notes"]:
            print(f"    note: {note}")


def demo(ctx: mt.Context) -> None:
    rng = np.random.default_rng(0)
    print(f"device: {ctx.device}")
    for n in (1_000, 1_000_000):
        a_np = rng.standard_normal(n, dtype=np.float32)
        b_np = rng.standard_normal(n, dtype=np.float32)
        a, b = ctx.tensor(a_np), ctx.tensor(b_np)
        for name, ref in (
            ("add", np.add),
            ("sub", np.subtract),
            ("mul", np.multiply),
            ("div", np.divide),
        ):
            op = getattr(mt.ops, name)
            op(a, b).numpy()  # warm up: pipeline creation
            start = time.perf_counter()
            out = op(a, b).numpy()
            elapsed = time.perf_counter() - start
            err = float(np.max(np.abs(out - ref(a_np, b_np))))
            print(f"  {name:4s} n={n:>9,d}: {elapsed * 1e6:9.1f} us   max |err| vs numpy {err:.2e}")
    x = ctx.tensor(np.arange(12, dtype=np.float32).reshape(3, 4))
    bias = ctx.tensor(np.array([0.5, 1.0, 1.5, 2.0], dtype=np.float32))
    print("broadcast add of a (4,) bias over a (3, 4) tensor:")
    with ctx.profile() as profile:
        print(mt.ops.add(x, bias).numpy())
        for op in (mt.ops.sub, mt.ops.mul, mt.ops.div):
            op(a, b)
    print("profile of these four ops:")
    print(profile.table(), end="")


def embed(texts: list[str], model: str | None, out: str | None, device: str) -> int:
    """Prints the cosine-similarity matrix of the texts' embeddings; --out writes them (.npy)."""
    from metallic.models import ModelError, SentenceEncoder

    try:
        encoder = SentenceEncoder(model, device=device)
        start = time.perf_counter()
        vectors = encoder.encode(texts)
        elapsed = time.perf_counter() - start
    except (ModelError, mt.MetallicError) as e:
        print(f"metallic: {e}", file=sys.stderr)
        return 2
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    unit = vectors / np.maximum(norms, 1e-12)
    similarity = unit @ unit.T
    width = max(len(str(i)) for i in range(len(texts))) + 1
    print(
        f"cosine similarity ({encoder.directory.name}, {vectors.shape[1]} dims, {encoder.ctx.device}):"
    )
    print(" " * width + "".join(f"{j:>9d}" for j in range(len(texts))))
    for i, row in enumerate(similarity):
        print(f"{i:>{width}d}" + "".join(f"{v:9.4f}" for v in row) + f"   {texts[i][:60]}")
    print(f"{len(texts)} texts in {elapsed * 1e3:.1f} ms", file=sys.stderr)
    if out:
        np.save(out, vectors)
    return 0


# Ops whose implementation `metallic generate` can force (--sdpa-backend, ...); the backend
# names come from the registry.
BACKEND_FLAGS = ("sdpa", "matmul", "softmax")


def _set_backends(ctx: mt.Context, choices: dict[str, str]) -> None:
    """Forces each op's backend on this context (not the environment); 'auto' leaves the op's
    choice. An unknown name is the registry's error, which lists the valid ones."""
    for op, backend in choices.items():
        if backend != "auto":
            ctx.set_backend(op, backend)


def _load_decoder(path: str, ctx: mt.Context) -> mt.models.Decoder:
    """The decoder of `path`, with a tqdm progress bar on stderr while its tensors load."""
    from tqdm import tqdm  # type: ignore[import-untyped]  # tqdm ships no type hints

    with tqdm(desc=f"loading {Path(path).name}", unit=" tensors", file=sys.stderr) as bar:

        def progress(loaded: int, total: int) -> None:
            bar.total = total
            bar.update(loaded - bar.n)

        return mt.models.Decoder(path, ctx=ctx, progress=progress)


def generate(args: argparse.Namespace) -> int:
    """Streams the continuation of a prompt to stdout; progress, summary and profile to stderr."""
    from metallic.models import ModelError

    try:
        ctx = mt.Context(device=args.device)
        _set_backends(
            ctx,
            {op: getattr(args, f"{op}_backend") for op in BACKEND_FLAGS},
        )
        model = _load_decoder(args.model, ctx)
        ids = model.prompt_ids(args.prompt, chat=args.chat)
        profile = ctx.profile() if args.profile else None
        with profile if profile is not None else contextlib.nullcontext():
            pieces = model.generate(
                ids,
                max_tokens=args.max_tokens,
                temperature=args.temperature,
                top_k=args.top_k,
                top_p=args.top_p,
                seed=args.seed,
            )
            for piece in pieces:
                sys.stdout.write(piece)
                sys.stdout.flush()
    except (ModelError, mt.MetallicError) as e:
        sys.stdout.flush()
        print(f"metallic: {e}", file=sys.stderr)
        return 2
    print(file=sys.stdout)
    print(model.stats.summary(), file=sys.stderr)
    if profile is not None:
        print(profile.table(), file=sys.stderr, end="")
    return 0


def compile_file(path: str, include_dirs: list[str]) -> int:
    """Translates and compiles a .metal file for the host device; lists its kernels."""
    try:
        source = Path(path).read_text()
    except OSError as e:
        print(f"metallic: cannot read {path}: {e.strerror}", file=sys.stderr)
        return 2
    name = re.sub(r"\W", "_", Path(path).stem) or "library"
    if name[0].isdigit():
        name = "_" + name
    ctx = mt.Context(device="host")
    try:
        lib = mt.compile_library(
            source, name=name, include_dirs=[str(Path(path).parent), *include_dirs], ctx=ctx
        )
    except mt.KernelCompileError as e:
        print(str(e).replace(f"{name}.metal", path), file=sys.stderr)
        return 1
    for kernel in lib.function_names():
        pipeline = lib.function(kernel).pipeline(ctx)
        print(
            f"{kernel}  (max {pipeline.max_total_threads_per_threadgroup} threads per threadgroup)"
        )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="metallic", description=__doc__)
    parser.add_argument("--device", default="auto", help="auto, host or metal")
    sub = parser.add_subparsers(dest="command", required=True)
    embed_parser = sub.add_parser(
        "embed", help="embed texts with a sentence encoder; print their cosine similarities"
    )
    embed_parser.add_argument("texts", nargs="+")
    embed_parser.add_argument(
        "--model", default=None, help="sentence-transformers directory (default: all-MiniLM-L6-v2)"
    )
    embed_parser.add_argument("--out", default=None, help="write the embeddings to this .npy file")
    gen = sub.add_parser("generate", help="generate text with a GGUF decoder (Qwen2, Llama)")
    gen.add_argument("model", help="a .gguf file")
    gen.add_argument("prompt", help="the text to continue (not echoed)")
    gen.add_argument("--max-tokens", type=int, default=128, help="stop after this many tokens")
    gen.add_argument("--temperature", type=float, default=0.0, help="0: greedy")
    gen.add_argument("--top-k", type=int, default=0, help="sample from the k likeliest (0: all)")
    gen.add_argument("--top-p", type=float, default=1.0, help="nucleus sampling threshold")
    gen.add_argument("--seed", type=int, default=0, help="the same seed gives the same text")
    gen.add_argument("--chat", action="store_true", help="apply the model's chat template")
    for op in BACKEND_FLAGS:
        gen.add_argument(
            f"--{op}-backend",
            default="auto",
            help=f"force {op}'s implementation on this run (mt.backends() lists them)",
        )
    gen.add_argument("--profile", action="store_true", help="per-op table on stderr")
    from metallic import bench

    bench.add_arguments(
        sub.add_parser(
            "bench", help="time the models against sentence-transformers/transformers (one table)"
        )
    )
    info_parser = sub.add_parser("info", help="devices, ops and kernel libraries")
    info_parser.add_argument(
        "--graph", action="store_true", help="graph kernels: signatures and dtype policies"
    )
    sub.add_parser("demo", help="run a few ops and print results and timings")
    compile_parser = sub.add_parser(
        "compile", help="translate and compile a .metal file for the host device, list kernels"
    )
    compile_parser.add_argument("file")
    compile_parser.add_argument("-I", dest="include", action="append", default=[])
    args = parser.parse_args(argv)
    if args.command == "compile":
        return compile_file(args.file, args.include)
    if args.command == "generate":
        return generate(args)
    if args.command == "embed":
        return embed(args.texts, args.model, args.out, args.device)
    if args.command == "bench":
        return bench.run(args)
    try:
        ctx = mt.Context(device=args.device)
    except mt.MetallicError as e:
        print(f"metallic: {e}", file=sys.stderr)
        return 2
    if args.command == "info":
        info(ctx, graph=args.graph)
    else:
        demo(ctx)
    return 0


if __name__ == "__main__":
    sys.exit(main())
