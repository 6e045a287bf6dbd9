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
import re
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

    def library(self, source: str, ctx: mt.Context) -> mt.Library:
        """The library of `source`, compiled for ctx (the time it took is printed: a second
        run finds it in the disk cache)."""
        if source not in self.libraries:
            path = self.root / source
            stem = Path(source).stem.replace("-", "_")
            start = time.perf_counter()
            lib = mt.compile_library(
                self.prelude + f'#include "{path}"\n',
                name=f"{self.name}_{stem}",
                include_dirs=[str(d) for d in self.include_dirs],
            )
            kernels = len(lib.function_names(ctx))
            took = time.perf_counter() - start
            print(f"     {self.name:7s} {source}: {kernels} kernels, {took:.1f}s", flush=True)
            self.libraries[source] = lib
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
        fn = self.project.library(self.source, self.ctx).function(kernel, constants=constants)
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


@case("candle", C + "binary.metal", "badd_f32")
def _candle_binary(r: Run) -> None:
    a, b = r.randn(777), r.randn(777)
    out = r.buf(np.zeros(777, np.float32))
    r.dispatch("badd_f32", [usize(777), r.buf(a), r.buf(b), out], *candle_tiles(777, 4))
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


# ---- ggml: src/ggml-metal/ggml-metal-ops.cpp, ggml-metal-device.cpp ------------------------
G = "src/ggml-metal/ggml-metal.metal"
GGML_TYPES = {
    "int32_t": np.int32, "uint32_t": np.uint32, "int64_t": np.int64, "uint64_t": np.uint64,
    "int16_t": np.int16, "uint16_t": np.uint16, "int8_t": np.int8, "uint8_t": np.uint8,
    "float": np.float32, "int": np.int32, "bool": np.bool_, "size_t": np.uint64,
}  # fmt: skip


def ggml_args(r: Run, name: str, **values: Any) -> np.ndarray:
    """An instance of ggml-metal-impl.h's `name` struct (C layout), fields from `values`, the
    others zero: the same header the ggml host code includes."""
    header = (r.project.root / "src/ggml-metal/ggml-metal-impl.h").read_text()
    m = re.search(r"typedef struct \{([^}]*)\}\s*" + name + r"\s*;", header)
    assert m, f"{name} not in ggml-metal-impl.h"
    fields: list[tuple[Any, ...]] = []
    for decl in re.sub(r"//[^\n]*", "", m.group(1)).split(";"):
        words = decl.split()
        if not words:
            continue
        ctype, declarator = " ".join(words[:-1]), words[-1]
        dim = re.fullmatch(r"(\w+)\[(\d+)\]", declarator)
        if dim:
            fields.append((dim.group(1), GGML_TYPES[ctype], (int(dim.group(2)),)))
        else:
            fields.append((declarator, GGML_TYPES[ctype]))
    a = np.zeros(1, struct(*fields))
    for k, v in values.items():
        a[k] = v
    return a


def ggml_rows(shape: tuple[int, ...], itemsize: int) -> dict[str, int]:
    """ne0..3 and nb0..3 (bytes) of a contiguous tensor, ggml's order (ne0 innermost)."""
    ne = list(reversed(shape)) + [1] * (4 - len(shape))
    nb = [itemsize]
    for n in ne[:3]:
        nb.append(nb[-1] * n)
    return {f"ne{i}": ne[i] for i in range(4)} | {f"nb{i}": nb[i] for i in range(4)}


def prefixed(prefix: str, d: dict[str, int]) -> dict[str, int]:
    return {f"{k[:2]}{prefix}{k[2:]}": v for k, v in d.items()}


@case("ggml", G, "kernel_unary_f32_f32_4")
def _ggml_scale(r: Run) -> None:
    x = r.randn(8, 64)
    out = r.buf(np.zeros_like(x))
    t = ggml_rows(x.shape, 4)
    args = ggml_args(r, "ggml_metal_kargs_unary", **prefixed("0", t), **t, scale=0.5, bias=2.0)
    args["ne00"], args["ne0"] = 16, 16  # c4: in float4s
    # op 10 = OP_UNARY_NUM_SCALE (FC_UNARY + 0), contiguous (FC_UNARY + 1): one thread per float4
    r.dispatch(
        "kernel_unary_f32_f32_4",
        [args, r.buf(x), out],
        (128, 1, 1),
        (1, 1, 1),
        {1200: 10, 1201: True},
    )
    close(out.read(), 0.5 * x + 2, rtol=1e-6, atol=1e-6)


@case("ggml", G, "kernel_get_rows_f32")
def _ggml_get_rows(r: Run) -> None:
    src, rows = r.randn(10, 48), np.array([7, 0, 3, 3, 9], np.int32)
    out = r.buf(np.zeros((5, 48), np.float32))
    args = ggml_args(
        r, "ggml_metal_kargs_get_rows", ne00t=48, ne00=48, nb01=192, nb02=1920, nb03=1920,
        ne10=5, nb10=4, nb11=20, nb12=20, nb1=192, nb2=960, nb3=960,
    )  # fmt: skip
    r.dispatch("kernel_get_rows_f32", [args, r.buf(src), r.buf(rows), out], (5, 1, 1), (48, 1, 1))
    close(out.read(), src[rows], rtol=0, atol=0)


@case("ggml", G, "kernel_cpy_f32_f16")
def _ggml_cpy(r: Run) -> None:
    x = r.randn(6, 40) * 10
    out = r.buf(np.zeros(x.shape, np.float16))
    t0, t = ggml_rows(x.shape, 4), ggml_rows(x.shape, 2)
    args = ggml_args(r, "ggml_metal_kargs_cpy", nk0=40, **prefixed("0", t0), **t)
    # nth = min(nk0*ne01, 256) = 240 > nk0: nrptg = 6 rows per threadgroup of (40, 6)
    r.dispatch("kernel_cpy_f32_f16", [args, r.buf(x), out], (1, 1, 1), (40, 6, 1))
    np.testing.assert_array_equal(out.read(), x.astype(np.float16))


@case("ggml", G, "kernel_rms_norm_f32_4")
def _ggml_rms_norm(r: Run) -> None:
    x = r.randn(5, 256)
    out = r.buf(np.zeros_like(x))
    t = ggml_rows(x.shape, 4)
    args = ggml_args(
        r, "ggml_metal_kargs_norm", ne00=256, ne00_t=64, nb1=t["nb1"], nb2=t["nb2"],
        nb3=t["nb3"], eps=1e-6, nef1=[5, 0, 0], nef2=[1, 0, 0], nef3=[1, 0, 0],
        nbf1=[t["nb1"], 0, 0], nbf2=[t["nb2"], 0, 0], nbf3=[t["nb3"], 0, 0],
    )  # fmt: skip
    src = r.buf(x)
    r.dispatch(
        "kernel_rms_norm_f32_4", [args, src, src, src, out], (5, 1, 1), (64, 1, 1),
        threadgroup_memory={0: 128},
    )  # fmt: skip
    close(out.read(), x / np.sqrt((x * x).mean(1, keepdims=True) + 1e-6), rtol=1e-5, atol=1e-5)


@case("ggml", G, "kernel_soft_max_f32_4")
def _ggml_soft_max(r: Run) -> None:
    x = r.randn(3, 2, 100) * 3  # ne00 = 100, rows ne01 = 2, heads ne02 = 3
    out = r.buf(np.zeros_like(x))
    args = ggml_args(
        r, "ggml_metal_kargs_soft_max", ne00=100, ne01=2, ne02=3, nb01=400, nb02=800,
        nb03=2400, nb1=400, nb2=800, nb3=2400, scale=0.5, max_bias=0.0, m0=1.0, m1=1.0,
        n_head_log2=2,
    )  # fmt: skip
    src = r.buf(x)  # no mask, no sinks: ggml binds src0 again at 2 and 3
    r.dispatch(
        "kernel_soft_max_f32_4", [args, src, src, src, out], (2, 3, 1), (32, 1, 1),
        threadgroup_memory={0: 128},
    )  # fmt: skip
    e = np.exp(0.5 * x - (0.5 * x).max(-1, keepdims=True))
    close(out.read(), e / e.sum(-1, keepdims=True), rtol=1e-5, atol=1e-6)


@case("ggml", G, "kernel_bin_fuse_f32_f32_f32_4")
def _ggml_add(r: Run) -> None:
    a, b = r.randn(4, 96), r.randn(96)  # b: one row, broadcast over a's rows
    out = r.buf(np.zeros_like(a))
    ta, tb = ggml_rows(a.shape, 4), ggml_rows((1, 96), 4)
    args = ggml_args(r, "ggml_metal_kargs_bin", **prefixed("0", ta), **prefixed("1", tb), **ta)
    args["ne00"], args["ne10"], args["ne0"] = 24, 24, 24  # c4: in float4s
    # FC_BIN: op 0 (add), one op (no fusion), row broadcast, no column broadcast
    constants = {1300: 0, 1301: 1, 1302: True, 1303: False}
    name = "kernel_bin_fuse_f32_f32_f32_4"
    r.dispatch(name, [args, r.buf(a), r.buf(b), out], (24, 4, 1), (1, 1, 1), constants)
    close(out.read(), a + b, rtol=0, atol=0)


@case("ggml", G, "kernel_mul_mv_f32_f32_4")
def _ggml_mul_mv_f32(r: Run) -> None:
    w, x = r.randn(20, 256), r.randn(256)  # src0 (weights) ne00=256 ne01=20; src1 one row
    out = r.buf(np.zeros(20, np.float32))
    nsg, nr0 = 2, 2  # min(4, (256 + 127) / 128), 2 rows per simdgroup
    args = ggml_args(
        r, "ggml_metal_kargs_mul_mv", ne00=256, ne01=20, ne02=1, nb00=4, nb01=1024,
        nb02=20480, nb03=20480, ne10=256, ne11=1, ne12=1, nb10=4, nb11=1024, nb12=1024,
        nb13=1024, ne0=20, ne1=1, nr0=nr0, r2=1, r3=1,
    )  # fmt: skip
    r.dispatch(
        "kernel_mul_mv_f32_f32_4", [args, r.buf(w), r.buf(x), out], (10, 1, 1), (32, nsg, 1),
        {600: nsg, 602: 1, 603: 1, 604: 1}, threadgroup_memory={0: 32 * 4 * nr0},
    )  # fmt: skip
    close(out.read(), w @ x, rtol=1e-5, atol=1e-4)


@case("ggml", G, "kernel_mul_mv_q8_0_f32")
def _ggml_mul_mv_q8_0(r: Run) -> None:
    rows, k = 12, 128
    d = (r.rng.random((rows, k // 32)) * 0.1 + 0.01).astype(np.float16)
    qs = r.rng.integers(-127, 128, (rows, k // 32, 32)).astype(np.int8)
    block = np.dtype([("d", np.float16), ("qs", np.int8, (32,))])  # block_q8_0: 34 bytes
    blocks = np.zeros((rows, k // 32), block)
    blocks["d"], blocks["qs"] = d, qs
    x = r.randn(k)
    out = r.buf(np.zeros(rows, np.float32))
    nsg, nr0 = 4, 2  # N_SG_Q8_0, N_R0_Q8_0
    args = ggml_args(
        r, "ggml_metal_kargs_mul_mv", ne00=k, ne01=rows, ne02=1, nb00=34, nb01=34 * k // 32,
        nb02=34 * k // 32 * rows, nb03=34 * k // 32 * rows, ne10=k, ne11=1, ne12=1, nb10=4,
        nb11=4 * k, nb12=4 * k, nb13=4 * k, ne0=rows, ne1=1, nr0=nr0, r2=1, r3=1,
    )  # fmt: skip
    r.dispatch(
        "kernel_mul_mv_q8_0_f32", [args, r.buf(blocks), r.buf(x), out], (rows // nr0, 1, 1),
        (32, nsg, 1), {600: nsg, 602: 1, 603: 1, 604: 1}, threadgroup_memory={0: 32 * 4 * nr0},
    )  # fmt: skip
    weights = (d.astype(np.float32)[..., None] * qs).reshape(rows, k)
    close(out.read(), weights @ x, rtol=1e-4, atol=1e-3)


@case("ggml", G, "kernel_rope_norm_f32")
def _ggml_rope(r: Run) -> None:
    x = r.randn(3, 2, 8)  # tokens ne02 = 3, heads ne01 = 2, head size ne00 = 8
    pos = np.array([0, 5, 9], np.int32)
    out = r.buf(np.zeros_like(x))
    t = ggml_rows(x.shape, 4)
    args = ggml_args(
        r, "ggml_metal_kargs_rope", **prefixed("0", t), **t, n_dims=8, freq_base=10000.0,
        freq_scale=1.0, attn_factor=1.0, beta_fast=32.0, beta_slow=1.0,
    )  # fmt: skip
    src = r.buf(x)
    r.dispatch(
        "kernel_rope_norm_f32", [args, src, r.buf(pos), src, out], (2, 3, 1), (8, 1, 1),
        {800: False, 801: False},
    )  # fmt: skip
    theta = pos[:, None, None] * 10000.0 ** (-np.arange(0, 8, 2) / 8)
    x0, x1 = x[..., 0::2], x[..., 1::2]
    want = np.empty_like(x)
    want[..., 0::2] = x0 * np.cos(theta) - x1 * np.sin(theta)
    want[..., 1::2] = x0 * np.sin(theta) + x1 * np.cos(theta)
    close(out.read(), want, rtol=1e-4, atol=1e-5)


# ---- MLX: mlx/backend/metal/*.cpp ----------------------------------------------------------
M = "mlx/backend/metal/kernels/"


def mlx_row_threads(axis: int, n_reads: int) -> int:
    """The threadgroup of MLX's single-row kernels (softmax, rms, layer_norm)."""
    return 32 * math.ceil(math.ceil(axis / n_reads) / 32)


@case("mlx", M + "arange.metal", "arangefloat32")
def _mlx_arange(r: Run) -> None:
    out = r.buf(np.zeros(50, np.float32))
    args = [np.float32(2.5), np.float32(0.5), out]
    r.dispatch("arangefloat32", args, (50,), (50,), mode="threads")
    close(out.read(), 2.5 + 0.5 * np.arange(50), rtol=0, atol=0)


@case("mlx", M + "unary.metal", "v_Expfloat32float32")
def _mlx_unary(r: Run) -> None:
    x = r.randn(1000)
    out = r.buf(np.zeros(1000, np.float32))
    r.dispatch(
        "v_Expfloat32float32", [r.buf(x), out, np.int32(1000)], (1000,), (1000,), mode="threads"
    )
    close(out.read(), np.exp(x), rtol=1e-6, atol=0)


@case("mlx", M + "binary.metal", "vv_Addfloat16")
def _mlx_binary(r: Run) -> None:
    a, b = r.randn(300, dtype=np.float16), r.randn(300, dtype=np.float16)
    out = r.buf(np.zeros(300, np.float16))
    args = [r.buf(a), r.buf(b), out, np.int32(300)]
    r.dispatch("vv_Addfloat16", args, (300,), (300,), mode="threads")
    np.testing.assert_array_equal(out.read(), a + b)


@case("mlx", M + "binary.metal", "g2_Multiplyfloat32")
def _mlx_binary_general(r: Run) -> None:
    a, b = r.randn(5, 8), r.randn(8)  # b broadcast over rows: strides (0, 1)
    out = r.buf(np.zeros((5, 8), np.float32))
    args = [r.buf(a), r.buf(b), out, np.array([8, 1], np.int64), np.array([0, 1], np.int64)]
    r.dispatch("g2_Multiplyfloat32", args, (8, 5, 1), block_dims(8, 5, 1), mode="threads")
    close(out.read(), a * b, rtol=0, atol=0)


@case("mlx", M + "softmax.metal", "block_softmax_float32")
def _mlx_softmax(r: Run) -> None:
    x = r.randn(3, 100) * 3
    out = r.buf(np.zeros_like(x))
    tg = mlx_row_threads(100, 4)
    r.dispatch(
        "block_softmax_float32", [r.buf(x), out, np.int32(100)], (3 * tg,), (tg,), mode="threads"
    )
    e = np.exp(x - x.max(1, keepdims=True))
    close(out.read(), e / e.sum(1, keepdims=True), rtol=1e-5, atol=1e-6)


@case("mlx", M + "rms_norm.metal", "rmsfloat32")
def _mlx_rms(r: Run) -> None:
    x, w = r.randn(4, 130), r.randn(130)
    out = r.buf(np.zeros_like(x))
    tg = mlx_row_threads(130, 4)
    args = [r.buf(x), r.buf(w), out, np.float32(1e-5), np.uint32(130), np.uint32(1)]
    r.dispatch("rmsfloat32", args, (4 * tg,), (tg,), mode="threads")
    close(out.read(), x / np.sqrt((x * x).mean(1, keepdims=True) + 1e-5) * w, rtol=1e-5, atol=1e-5)


@case("mlx", M + "layer_norm.metal", "layer_normfloat32")
def _mlx_layer_norm(r: Run) -> None:
    # An axis of 250: every thread of the (32-thread) group has part of the row. Unless
    # ceil(axis / 8) is a multiple of 32 (70, say), MLX's kernel writes thread_x[i] for
    # negative i in the threads past the row's end (docs/host-device.md, real-world kernel
    # libraries): undefined behaviour, which corrupts those threads' stacks here.
    x, w, b = r.randn(3, 250), r.randn(250), r.randn(250)
    out = r.buf(np.zeros_like(x))
    tg = mlx_row_threads(250, 8)
    args = [r.buf(x), r.buf(w), r.buf(b), out, np.float32(1e-5), np.uint32(250)]
    args += [np.uint32(1), np.uint32(1)]
    r.dispatch("layer_normfloat32", args, (3 * tg,), (tg,), mode="threads")
    mu, var = x.mean(1, keepdims=True), x.var(1, keepdims=True)
    close(out.read(), (x - mu) / np.sqrt(var + 1e-5) * w + b, rtol=1e-4, atol=1e-5)


@case("mlx", M + "scaled_dot_product_attention.metal", "sdpa_vector_float_64_64")
def _mlx_sdpa_vector(r: Run) -> None:
    heads, n, d = 4, 45, 64  # gqa: 4 query heads over 2 key/value heads
    q, k, v = r.randn(1, heads, 1, d), r.randn(1, 2, n, d), r.randn(1, 2, n, d)
    out = r.buf(np.zeros((1, heads, 1, d), np.float32))
    scale = 1 / math.sqrt(d)
    args = [r.buf(q), r.buf(k), r.buf(v), out, np.int32(2), np.int32(n)]
    args += [usize(n * d), usize(d), usize(n * d), usize(d), np.float32(scale)]
    constants = {20: False, 21: False, 22: False, 23: False, 24: False, 25: False}
    r.dispatch("sdpa_vector_float_64_64", args, (heads, 1, 1), (1024, 1, 1), constants)
    kk, vv = np.repeat(k[0], 2, 0), np.repeat(v[0], 2, 0)
    s = np.einsum("hd,hnd->hn", q[0, :, 0], kk) * scale
    p = np.exp(s - s.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    close(out.read()[0, :, 0], np.einsum("hn,hnd->hd", p, vv), rtol=1e-4, atol=1e-5)


@case(
    "mlx",
    M + "steel/gemm/kernels/steel_gemm_fused.metal",
    "steel_gemm_fused_nn_float32_float32_bm32_bn32_bk16_wm2_wn2",
)
def _mlx_gemm(r: Run) -> None:
    m, n, k = 40, 50, 36
    a, b = r.randn(m, k), r.randn(k, n)
    out = r.buf(np.zeros((m, n), np.float32))
    params_t = struct(
        *[(f, np.int32) for f in ("M", "N", "K", "lda", "ldb", "ldd", "tiles_n", "tiles_m")],
        *[(f, np.int64) for f in ("bsa", "bsb", "bsd")],
        *[(f, np.int32) for f in ("swizzle_log", "gemm_k_iterations_aligned", "batch_ndim")],
    )
    tn, tm = math.ceil(n / 32), math.ceil(m / 32)
    params = np.array([(m, n, k, k, n, n, tn, tm, m * k, k * n, m * n, 0, k // 16, 1)], params_t)
    constants: dict[int | str, Any] = {10: False, 100: False, 110: False}
    constants.update({200: m % 32 == 0, 201: n % 32 == 0, 202: k % 16 == 0})
    # C (buffer 2) and the addmm parameters (5) are unbound: use_out_source is false.
    args = [r.buf(a), r.buf(b), None, out, params]
    name = "steel_gemm_fused_nn_float32_float32_bm32_bn32_bk16_wm2_wn2"
    r.dispatch(name, args, (tn, tm, 1), (32, 2, 2), constants)
    close(out.read(), a @ b, rtol=1e-4, atol=1e-4)


@case("mlx", M + "copy.metal", "s_copyfloat32float16")
def _mlx_copy(r: Run) -> None:
    out = r.buf(np.zeros(64, np.float16))
    src = r.buf(np.array([1.75], np.float32))
    r.dispatch("s_copyfloat32float16", [src, out, np.int32(64)], (64,), (64,), mode="threads")
    np.testing.assert_array_equal(out.read(), np.full(64, 1.75, np.float16))


@case("mlx", M + "rope.metal", "rope_float32")
def _mlx_rope(r: Run) -> None:
    b, heads, t, d = 1, 3, 5, 16
    x = r.randn(b, heads, t, d)
    offset = np.array([7], np.int32)
    out = r.buf(np.zeros_like(x))
    strides = np.array([t * d, d, 1], np.int64)
    args = [r.buf(x), out, r.buf(offset), np.float32(1.0), strides, strides, np.int64(0)]
    args += [np.int32(heads), None, None, np.float32(math.log2(10000.0))]
    grid = (d // 2, t, b * math.ceil(heads / 4))
    constants = {1: True, 2: False, 3: False}  # forward, not traditional, no transpose
    r.dispatch("rope_float32", args, grid, block_dims(*grid), constants, mode="threads")
    theta = (np.arange(t) + 7)[:, None] * 10000.0 ** (-np.arange(d // 2) / (d // 2))
    x1, x2 = x[..., : d // 2], x[..., d // 2 :]
    want = np.concatenate(
        [x1 * np.cos(theta) - x2 * np.sin(theta), x1 * np.sin(theta) + x2 * np.cos(theta)], -1
    )
    close(out.read(), want, rtol=1e-4, atol=1e-4)


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
    return (
        0 if all(s.split()[1].split("/")[0] == s.split()[1].split("/")[1] for s in summary) else 1
    )


if __name__ == "__main__":
    sys.exit(main())
