"""The `metallic` command: `metallic info`, `metallic demo`, `metallic compile FILE`."""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

import numpy as np

import metallic as mt


def info(ctx: mt.Context) -> None:
    from metallic import _core

    print(f"metallic {mt.__version__}")
    print(f"devices in this build: {', '.join(_core.available_devices())}")
    print(f"active device: {ctx.device}")
    for key, value in sorted(ctx.device_info().items()):
        print(f"  {key}: {value}")
    print("ops:")
    for op in _core.op_infos():
        params = ", ".join(
            f"{n}: {t}" + (f" = {d}" if d is not None else "") for n, t, d in op["params"]
        )
        print(f"  {op['name']}({params})  [{op['class_name']}]")
    print("kernel libraries:")
    for lib, functions in _core.kernel_libraries().items():
        print(f"  {lib}: {', '.join(functions)}")


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
    sub.add_parser("info", help="devices, ops and kernel libraries")
    sub.add_parser("demo", help="run a few ops and print results and timings")
    compile_parser = sub.add_parser(
        "compile", help="translate and compile a .metal file for the host device, list kernels"
    )
    compile_parser.add_argument("file")
    compile_parser.add_argument("-I", dest="include", action="append", default=[])
    args = parser.parse_args(argv)
    if args.command == "compile":
        return compile_file(args.file, args.include)
    try:
        ctx = mt.Context(device=args.device)
    except mt.MetallicError as e:
        print(f"metallic: {e}", file=sys.stderr)
        return 2
    if args.command == "info":
        info(ctx)
    else:
        demo(ctx)
    return 0


if __name__ == "__main__":
    sys.exit(main())
