#!/usr/bin/env python3
"""Runs other projects' unmodified Metal kernels on metallic's host device.

Compiles the kernel sources of candle (candle-metal-kernels/src/metal_src), ggml's Metal backend
(src/ggml-metal/ggml-metal.metal, as Apple-silicon Macs compile it: bf16 on) and MLX
(mlx/backend/metal/kernels) with mt.compile_library, and runs a representative set of their
kernels bound as those projects' host code binds them (argument order and sizes, inline bytes,
function constants, grid and threadgroup sizes), checking each result against numpy.

    python tools/check_real_world_msl.py --candle PATH --ggml PATH --mlx PATH [--checks] [-k NAME]

PATH is a checkout of github.com/huggingface/candle, ggml-org/ggml or ml-explore/mlx. Prints one
line per kernel and the count per project; exits 1 if any kernel failed. Not part of the test
suite: CI has no copy of these projects (tests/msl/test_real_world_constructs.py covers each
construct with kernels of our own).
"""

from __future__ import annotations

import argparse
import math
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import metallic as mt
import numpy as np


class Buf:
    """A device buffer holding `array`'s bytes (any dtype, read back with `read`)."""

    def __init__(self, ctx: mt.Context, array: np.ndarray) -> None:
        self.array = np.ascontiguousarray(array)
        raw = np.frombuffer(self.array.tobytes(), np.uint8)
        self.tensor = ctx.tensor(raw.copy() if raw.size else np.zeros(16, np.uint8))

    def read(self) -> np.ndarray:
        raw = self.tensor.numpy().tobytes()[: self.array.nbytes]
        return np.frombuffer(raw, self.array.dtype).reshape(self.array.shape).copy()


@dataclass
class Project:
    name: str
    root: Path
    include_dirs: list[Path]
    prelude: str = ""  # the preprocessor macros the project's host code sets
    libraries: dict[str, mt.Library] = field(default_factory=dict)

    def library(self, source: str) -> mt.Library:
        if source not in self.libraries:
            path = self.root / source
            stem = Path(source).stem.replace("-", "_")
            self.libraries[source] = mt.compile_library(
                self.prelude + f'#include "{path}"\n',
                name=f"{self.name}_{stem}",
                include_dirs=[str(d) for d in self.include_dirs],
            )
        return self.libraries[source]


class Run:
    """What a case gets: the context, the project, dispatch and buffer helpers."""

    def __init__(self, ctx: mt.Context, project: Project, source: str) -> None:
        self.ctx, self.project, self.source = ctx, project, source
        self.rng = np.random.default_rng(0)

    def buf(self, array: np.ndarray) -> Buf:
        return Buf(self.ctx, array)

    def dispatch(
        self,
        kernel: str,
        args: Sequence[Any],
        groups: Sequence[int],
        threads: Sequence[int],
        constants: dict[int | str, Any] | None = None,
        threadgroup_memory: dict[int, int] | None = None,
        mode: str = "threadgroups",
    ) -> None:
        """dispatchThreadgroups(groups, threads) of `kernel` with args bound at indices 0..
        (mode="threads": dispatchThreads, `groups` is then the grid in threads)."""
        bound = [a.tensor if isinstance(a, Buf) else a for a in args]
        fn = self.project.library(self.source).function(kernel, constants=constants)
        fn(
            *bound,
            grid=groups,
            threadgroup=threads,
            dispatch=mode,
            threadgroup_memory=threadgroup_memory,
            ctx=self.ctx,
        )

    def randn(self, *shape: int, dtype: Any = np.float32) -> np.ndarray:
        return self.rng.standard_normal(shape).astype(dtype)


def close(got: np.ndarray, want: np.ndarray, rtol: float = 1e-5, atol: float = 1e-5) -> None:
    np.testing.assert_allclose(
        np.asarray(got, np.float64), np.asarray(want, np.float64), rtol=rtol, atol=atol
    )


def struct(*fields: tuple[str, Any]) -> np.dtype:
    """A numpy dtype with C's layout (alignment and padding) for an argument struct."""
    return np.dtype(list(fields), align=True)


def usize(n: int) -> np.uint64:
    return np.uint64(n)


def linear_split(n: int, max_threads: int = 1024) -> tuple[tuple[int], tuple[int]]:
    """candle's linear_split: (groups, threads) for n threads in one dimension."""
    width = max(1, min(max_threads, n))
    return (math.ceil(n / width),), (width,)


def block_dims(d0: int, d1: int, d2: int) -> tuple[int, int, int]:
    """MLX's (and candle's) get_block_dims: up to 2^10 threads spread over three dimensions."""
    pows, dims, total = [0, 0, 0], (d0, d1, d2), 0
    while True:
        before = total
        for i in range(3):
            if dims[i] >= 1 << (pows[i] + 1) and total < 10:
                pows[i] += 1
                total += 1
        if total in (before, 10):
            break
    return (1 << pows[0], 1 << pows[1], 1 << pows[2])


CASES: dict[str, list[tuple[str, str, Callable[[Run], None]]]] = {}


def case(project: str, source: str, kernel: str) -> Callable[[Callable[[Run], None]], Any]:
    def register(fn: Callable[[Run], None]) -> Callable[[Run], None]:
        CASES.setdefault(project, []).append((source, kernel, fn))
        return fn

    return register


# ---- candle: candle-metal-kernels/src/kernels/*.rs ------------------------------------------
C = "candle-metal-kernels/src/metal_src/"


def candle_tiles(n: int, dtype_size: int) -> tuple[tuple[int], tuple[int]]:
    """get_tile_size + linear_split, as the elementwise kernels dispatch."""
    return linear_split(math.ceil(n / max(1, 8 // dtype_size)))


@case("candle", C + "unary.metal", "gelu_f32")
def _candle_unary(r: Run) -> None:
    x = r.randn(1000) * 3
    out = r.buf(np.zeros(1000, np.float32))
    r.dispatch("gelu_f32", [usize(1000), r.buf(x), out], *candle_tiles(1000, 4))
    want = 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x**3)))
    close(out.read(), np.where(x > 5, x, want), rtol=1e-4, atol=1e-5)


@case("candle", C + "binary.metal", "add_f32")
def _candle_binary(r: Run) -> None:
    a, b = r.randn(777), r.randn(777)
    out = r.buf(np.zeros(777, np.float32))
    r.dispatch("add_f32", [usize(777), r.buf(a), r.buf(b), out], *candle_tiles(777, 4))
    close(out.read(), a + b, rtol=0, atol=0)


@case("candle", C + "affine.metal", "affine_f16")
def _candle_affine(r: Run) -> None:
    x = r.randn(500, dtype=np.float16)
    out = r.buf(np.zeros(500, np.float16))
    args = [usize(500), np.float32(1.5), np.float32(-0.25), r.buf(x), out]
    r.dispatch("affine_f16", args, *candle_tiles(500, 2))
    close(out.read(), (x.astype(np.float32) * 1.5 - 0.25).astype(np.float16), rtol=1e-3)


@case("candle", C + "cast.metal", "cast_f32_f16")
def _candle_cast(r: Run) -> None:
    x = r.randn(333) * 100
    out = r.buf(np.zeros(333, np.float16))
    r.dispatch("cast_f32_f16", [usize(333), r.buf(x), out], *candle_tiles(333, 4))
    np.testing.assert_array_equal(out.read(), x.astype(np.float16))


@case("candle", C + "ternary.metal", "where_u8_f32")
def _candle_where(r: Run) -> None:
    shape = (7, 9)
    cond = (r.rng.random(shape) > 0.5).astype(np.uint8)
    t, f = r.randn(*shape), r.randn(*shape)
    out = r.buf(np.zeros(shape, np.float32))
    dims = np.array(shape, np.uint64)
    strides = np.array([9, 1], np.uint64)
    args = [usize(63), usize(2), dims, strides, strides, strides]
    args += [r.buf(cond), r.buf(t), r.buf(f), out]
    r.dispatch("where_u8_f32", args, *candle_tiles(63, 4), constants={0: True, 1: True, 2: True})
    close(out.read(), np.where(cond != 0, t, f), rtol=0, atol=0)


@case("candle", C + "indexing.metal", "is_u32_f32")
def _candle_index_select(r: Run) -> None:
    src = r.randn(5, 6, 4)
    ids = np.array([3, 0, 5, 5, 1], np.uint32)
    out = r.buf(np.zeros((5, 5, 4), np.float32))
    dims, strides = np.array([5, 6, 4], np.uint64), np.array([24, 4, 1], np.uint64)
    args = [usize(100), usize(5), usize(6), usize(4), usize(5), np.bool_(True), dims, strides]
    args += [r.buf(src), r.buf(ids), out]
    r.dispatch("is_u32_f32", args, *linear_split(100))
    close(out.read(), src[:, ids, :], rtol=0, atol=0)


def candle_reduce_threads(work: int) -> int:
    return min(1024, 1 << max(0, (work // 2 - 1).bit_length()))


@case("candle", C + "reduce.metal", "fast_sum_f32")
def _candle_sum(r: Run) -> None:
    x = r.randn(6, 300)
    out = r.buf(np.zeros(6, np.float32))
    args = [np.uint32(1800), np.uint32(2), np.array([6, 300], np.uint32), np.uint32(300)]
    r.dispatch("fast_sum_f32", [*args, r.buf(x), out], (6,), (candle_reduce_threads(300),))
    close(out.read(), x.sum(1), rtol=1e-5, atol=1e-4)


@case("candle", C + "reduce.metal", "softmax_f32")
def _candle_softmax(r: Run) -> None:
    x = r.randn(4, 129) * 4
    out = r.buf(np.zeros_like(x))
    args = [usize(x.size), usize(129), r.buf(x), out]
    r.dispatch("softmax_f32", args, (4,), (candle_reduce_threads(129),))
    e = np.exp(x - x.max(1, keepdims=True))
    close(out.read(), e / e.sum(1, keepdims=True), rtol=1e-5, atol=1e-6)


@case("candle", C + "reduce.metal", "rmsnorm_f32")
def _candle_rms_norm(r: Run) -> None:
    x, alpha = r.randn(3, 200), r.randn(200)
    out = r.buf(np.zeros_like(x))
    args = [usize(x.size), usize(200), r.buf(x), out, r.buf(alpha), np.float32(1e-5)]
    r.dispatch("rmsnorm_f32", args, (3,), (candle_reduce_threads(200),))
    want = x / np.sqrt((x * x).mean(1, keepdims=True) + 1e-5) * alpha
    close(out.read(), want, rtol=1e-5, atol=1e-5)


@case("candle", C + "sort.metal", "asort_asc_f32")
def _candle_arg_sort(r: Run) -> None:
    x = r.randn(3, 13)
    out = r.buf(np.zeros((3, 13), np.uint32))
    args = [r.buf(x), out, np.int64(13), np.int64(16)]
    r.dispatch("asort_asc_f32", args, (1, 3), (16,), threadgroup_memory={0: 64})
    np.testing.assert_array_equal(out.read(), np.argsort(x, 1, kind="stable"))


@case("candle", C + "mlx_gemm.metal", "gemm_nn_f32_f32_32_32_16_2_2")
def _candle_gemm(r: Run) -> None:
    m, n, k = 10, 40, 24  # m < 16: candle picks the 32x32x16 tile
    a, b = r.randn(m, k), r.randn(k, n)
    out = r.buf(np.zeros((m, n), np.float32))
    params_t = struct(
        *[(f, np.int32) for f in ("m", "n", "k", "lda", "ldb", "ldd", "tiles_n", "tiles_m")],
        *[(f, np.int64) for f in ("bsa", "bsb", "bsd")],
        *[(f, np.int32) for f in ("swizzle_log", "gemm_k_iterations_aligned", "batch_ndim")],
    )
    tn, tm = math.ceil(n / 32), math.ceil(m / 32)
    params = np.array([(m, n, k, k, n, n, tn, tm, m * k, n * k, m * n, 0, k // 16, 1)], params_t)
    constants: dict[int | str, Any] = {10: False, 100: False, 110: False, 300: False}
    constants.update({200: m % 32 == 0, 201: n % 32 == 0, 202: k % 16 == 0})
    args = [r.buf(a), r.buf(b), None, out, params, None, np.int32(1)]
    args.append(np.array([m * k, n * k], np.int64))
    r.dispatch("gemm_nn_f32_f32_32_32_16_2_2", args, (tn, tm, 1), (32, 2, 2), constants)
    close(out.read(), a @ b, rtol=1e-4, atol=1e-4)


@case("candle", C + "scaled_dot_product_attention.metal", "sdpa_vector_float_64")
def _candle_sdpa_vector(r: Run) -> None:
    heads, n, d = 2, 37, 64
    q, k, v = r.randn(1, heads, 1, d), r.randn(1, heads, n, d), r.randn(1, heads, n, d)
    out = r.buf(np.zeros((1, heads, 1, d), np.float32))
    scale = 1 / math.sqrt(d)
    args = [r.buf(q), r.buf(k), r.buf(v), out, np.int32(1), np.int32(n)]
    args += [usize(n * d), usize(n * d), np.float32(scale), np.float32(1.0)]
    r.dispatch("sdpa_vector_float_64", args, (1, heads, 1), (1024, 1, 1), {20: False})
    s = np.einsum("hd,hnd->hn", q[0, :, 0], k[0]) * scale
    p = np.exp(s - s.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    close(out.read()[0, :, 0], np.einsum("hn,hnd->hd", p, v[0]), rtol=1e-4, atol=1e-5)


@case("candle", C + "unary.metal", "copy2d_f32")
def _candle_copy2d(r: Run) -> None:
    src = r.randn(6, 10)
    dst = r.buf(np.zeros((6, 7), np.float32))
    # copy2d(d1, d2, src_s, dst_s, src, dst): rows d1 of d2 elements, strides in elements
    args = [np.int64(6), np.int64(5), np.int64(10), np.int64(7), r.buf(src), dst]
    r.dispatch("copy2d_f32", args, (6, 5, 1), block_dims(6, 5, 1), mode="threads")
    want = np.zeros((6, 7), np.float32)
    want[:, :5] = src[:, :5]
    close(dst.read(), want, rtol=0, atol=0)


@case("candle", C + "fill.metal", "fill_f32")
def _candle_fill(r: Run) -> None:
    out = r.buf(np.zeros(100, np.float32))
    r.dispatch("fill_f32", [out, np.float32(2.5), usize(100)], *linear_split(100))
    close(out.read(), np.full(100, 2.5), rtol=0, atol=0)


@case("candle", C + "random.metal", "rand_uniform_f32")
def _candle_rand(r: Run) -> None:
    n = 4096
    out = r.buf(np.zeros(n, np.float32))
    seed = r.buf(np.array([299792458], np.uint64))
    args = [usize(n), np.float32(-1.0), np.float32(3.0), seed, out]
    r.dispatch("rand_uniform_f32", args, *linear_split(math.ceil(n / 2)))
    x = out.read()
    assert x.min() >= -1 and x.max() <= 3 and abs(x.mean() - 1) < 0.1, (x.min(), x.max())
    assert len(np.unique(x)) > n * 0.9, "values repeat"


# ---- running --------------------------------------------------------------------------------
def run_project(
    ctx: mt.Context, project: Project, only: str | None, verbose: bool
) -> tuple[int, int]:
    passed = total = 0
    for source, kernel, fn in CASES.get(project.name, []):
        if only and only not in kernel:
            continue
        total += 1
        start = time.perf_counter()
        try:
            fn(Run(ctx, project, source))
            ctx.synchronize()
            passed += 1
            status = "ok  "
            detail = ""
        except Exception as e:  # noqa: BLE001 - report every failure and go on
            status = "FAIL"
            lines = str(e).strip().splitlines() or [type(e).__name__]
            detail = " | ".join(lines[:3])[:400]
            if verbose:
                traceback.print_exc()
        took = time.perf_counter() - start
        print(f"{status} {project.name:7s} {kernel:40s} {took:7.1f}s {detail}", flush=True)
    return passed, total


def projects(args: argparse.Namespace) -> list[Project]:
    out = []
    if args.candle:
        root = Path(args.candle).resolve()
        out.append(Project("candle", root, [root / C]))
    if args.ggml:
        root = Path(args.ggml).resolve()
        out.append(
            Project(
                "ggml",
                root,
                [root / "src" / "ggml-metal", root / "src"],
                prelude="#define GGML_METAL_HAS_BF16 1\n",
            )
        )
    if args.mlx:
        root = Path(args.mlx).resolve()
        out.append(Project("mlx", root, [root]))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--candle", help="a checkout of huggingface/candle")
    ap.add_argument("--ggml", help="a checkout of ggml-org/ggml")
    ap.add_argument("--mlx", help="a checkout of ml-explore/mlx")
    ap.add_argument("--checks", action="store_true", help="run with host debug checks")
    ap.add_argument("-k", dest="only", help="only kernels whose name contains this")
    ap.add_argument("-v", dest="verbose", action="store_true", help="print tracebacks")
    args = ap.parse_args(argv)
    ctx = mt.Context(device="host", host_checks=args.checks)
    summary = []
    for project in projects(args):
        passed, total = run_project(ctx, project, args.only, args.verbose)
        summary.append(f"{project.name} {passed}/{total}")
    print("passed: " + ", ".join(summary))
    return 0 if all(s.split()[1].split("/")[0] == s.split()[1].split("/")[1] for s in summary) else 1


if __name__ == "__main__":
    sys.exit(main())
