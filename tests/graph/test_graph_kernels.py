"""Graph kernels (the mpsgraph backend of sdpa, matmul and softmax) against the legacy kernels and
a float64 numpy reference, in both the fused and the unfused attention form; the registry's
overrides; the GraphExecutableCache and the MaskArena through their counters."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import metallic as mt
import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "ops"))
from test_matmul import reference as matmul_reference  # noqa: E402
from test_sdpa import _qkv as sdpa_inputs  # noqa: E402
from test_sdpa import reference as sdpa_reference  # noqa: E402

# Max abs error between the graph kernel and the legacy kernel (outputs of order 1). f16: both
# round inputs and output to f16 (spacing 1e-3 near 1) and accumulate in f32.
ATOL = {np.float32: 3e-5, np.float16: 4e-3}

# (batch, q_heads, kv_heads, q_len, kv_len, head_dim): odd sizes, GQA ratios 1, 2, 3, 7,
# decode (q_len 1), chunked prefill (q_len < kv_len), an empty KV range.
SDPA_SHAPES = [
    (1, 2, 1, 5, 5, 32),
    (2, 6, 2, 9, 13, 16),
    (1, 3, 3, 17, 17, 7),
    (3, 7, 1, 1, 37, 24),
    (2, 4, 4, 1, 1, 8),
    (1, 6, 2, 3, 40, 64),
    (2, 2, 2, 4, 0, 8),
]


@pytest.fixture(params=["fused", "unfused"])
def gctx(
    device: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> mt.Context:
    """A context whose graph kernels build the fused attention node, or the unfused graph (the
    host device reads METALLIC_HOST_GRAPH_FUSED_ATTENTION when it is created)."""
    if request.param == "unfused":
        if device != "host":
            pytest.skip("the Metal device decides the form by its OS")
        monkeypatch.setenv("METALLIC_HOST_GRAPH_FUSED_ATTENTION", "0")
    return mt.Context(device=device)


def _sdpa(
    ctx: mt.Context,
    backend: str,
    q: np.ndarray,
    k: np.ndarray,
    v: np.ndarray,
    mask: np.ndarray | None = None,
    causal: bool = False,
    scale: float | None = None,
) -> np.ndarray:
    """sdpa through `backend`, checking that the dispatcher chose it."""
    ctx.set_backend("sdpa", backend)
    t = ctx.tensor
    out = mt.ops.sdpa(
        t(q), t(k), t(v), mask=None if mask is None else t(mask), causal=causal, scale=scale
    )
    assert ctx.backend_events()[-1][:2] == ("sdpa", backend)
    return np.asarray(out.numpy(), np.float64)


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("shape", SDPA_SHAPES)
def test_sdpa_matches_legacy(
    gctx: mt.Context, shape: tuple[int, ...], causal: bool, dtype: type
) -> None:
    if causal and shape[3] > shape[4]:
        pytest.skip("causal attention needs q_len <= kv_len")
    q, k, v = sdpa_inputs(shape, dtype, seed=1)
    graph = _sdpa(gctx, "mpsgraph", q, k, v, causal=causal)
    legacy = _sdpa(gctx, "legacy", q, k, v, causal=causal)
    np.testing.assert_allclose(graph, legacy, atol=ATOL[dtype], rtol=0)
    # no key (kv_len 0): every row gives 0 (numpy's max has no identity for the reference)
    expected = sdpa_reference(q, k, v, causal=causal) if shape[4] else np.zeros(q.shape)
    np.testing.assert_allclose(graph, expected, atol=ATOL[dtype], rtol=0)


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
@pytest.mark.parametrize("mask_shape", [(9, 13), (2, 1, 1, 13), (2, 6, 9, 13), (1, 6, 1, 13)])
def test_sdpa_additive_mask_with_causal_and_scale(
    gctx: mt.Context, mask_shape: tuple[int, ...], dtype: type
) -> None:
    q, k, v = sdpa_inputs((2, 6, 2, 9, 13, 16), dtype, seed=2)
    rng = np.random.default_rng(3)
    mask = np.where(rng.random(mask_shape) < 0.3, -np.inf, rng.standard_normal(mask_shape))
    mask[..., 0] = -np.inf  # with causal, some queries see only masked keys: their rows give 0
    mask = mask.astype(dtype)
    graph = _sdpa(gctx, "mpsgraph", q, k, v, mask, causal=True, scale=0.3)
    legacy = _sdpa(gctx, "legacy", q, k, v, mask, causal=True, scale=0.3)
    np.testing.assert_allclose(graph, legacy, atol=ATOL[dtype], rtol=0)
    expected = sdpa_reference(q, k, v, mask=mask, causal=True, scale=0.3)
    np.testing.assert_allclose(graph, expected, atol=ATOL[dtype], rtol=0)


def test_sdpa_strided_inputs_are_copied(gctx: mt.Context) -> None:
    """Graph inputs are contiguous: a transposed query view and a KV-cache prefix are copied."""
    q, k, v = sdpa_inputs((1, 4, 2, 6, 20, 8), np.float32, seed=4)
    qt = gctx.tensor(np.ascontiguousarray(q.transpose(0, 2, 1, 3))).transpose(0, 2, 1, 3)
    cache_k, cache_v = (gctx.tensor(np.concatenate([x, x], axis=2)) for x in (k, v))
    gctx.set_backend("sdpa", "mpsgraph")
    out = mt.ops.sdpa(qt, cache_k[:, :, :20], cache_v[:, :, :20], causal=True)
    np.testing.assert_allclose(out.numpy(), sdpa_reference(q, k, v, causal=True), atol=3e-5)


@pytest.mark.parametrize("dtype", ["f32", "f16"])
@pytest.mark.parametrize(
    ("a_shape", "b_shape", "ta", "tb"),
    [
        ((7, 13), (13, 5), False, False),
        ((13, 7), (5, 13), True, True),
        ((3, 1, 33), (33, 9), False, False),
        ((2, 3, 9, 4), (2, 3, 4, 6), False, False),
        ((2, 3, 9, 4), (3, 6, 4), False, True),
        ((4, 0), (0, 3), False, False),
        ((0, 5), (5, 2), False, False),
    ],
)
def test_matmul_matches_blas_and_numpy(
    ctx: mt.Context,
    a_shape: tuple[int, ...],
    b_shape: tuple[int, ...],
    ta: bool,
    tb: bool,
    dtype: str,
) -> None:
    rng = np.random.default_rng(5)
    np_dtype = np.float32 if dtype == "f32" else np.float16
    a, b = (rng.standard_normal(s).astype(np_dtype) for s in (a_shape, b_shape))
    outs = []
    for backend in ("mpsgraph", "blas" if ctx.device == "host" else "msl"):
        ctx.set_backend("matmul", backend)
        out = mt.ops.matmul(ctx.tensor(a), ctx.tensor(b), transpose_a=ta, transpose_b=tb, alpha=0.5)
        assert out.dtype == dtype and ctx.backend_events()[-1][:2] == ("matmul", backend)
        outs.append(np.asarray(out.numpy(), np.float64))
    expected = matmul_reference(a, b, ta, tb, alpha=0.5)
    tol = 2e-5 if dtype == "f32" else 3e-3
    k = a_shape[-2] if ta else a_shape[-1]
    for out in outs:
        np.testing.assert_allclose(out, expected, atol=tol * max(1.0, np.sqrt(k)), rtol=tol)


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
@pytest.mark.parametrize(
    ("shape", "mask_shape", "causal"),
    [
        ((3, 17), None, False),
        ((2, 3, 5, 9), (5, 9), True),
        ((2, 7, 4), (2, 1, 4), False),
        ((6, 4), None, True),
    ],
)
def test_softmax_matches_row(
    ctx: mt.Context,
    shape: tuple[int, ...],
    mask_shape: tuple[int, ...] | None,
    causal: bool,
    dtype: type,
) -> None:
    rng = np.random.default_rng(6)
    x = (3 * rng.standard_normal(shape)).astype(dtype)
    mask = (
        None
        if mask_shape is None
        else np.where(rng.random(mask_shape) < 0.3, -np.inf, 0).astype(dtype)
    )
    outs = []
    for backend in ("mpsgraph", "row" if ctx.device == "host" else "block"):
        ctx.set_backend("softmax", backend)
        out = mt.ops.softmax(
            ctx.tensor(x), scale=0.5, causal=causal, mask=None if mask is None else ctx.tensor(mask)
        )
        outs.append(np.asarray(out.numpy(), np.float64))
    np.testing.assert_allclose(outs[0], outs[1], atol=ATOL[dtype], rtol=0)


def test_bf16_is_a_clear_error(ctx: mt.Context) -> None:
    ctx.set_backend("matmul", "mpsgraph")
    a = ctx.tensor(np.ones((2, 2), np.float32)).astype("bf16")
    with pytest.raises(
        mt.DTypeError, match=r"f32 storage, f32 accumulation; f16 storage.*not bf16"
    ):
        mt.ops.matmul(a, a)


def test_environment_forces_mpsgraph(device: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("METALLIC_FORCE_SDPA_BACKEND", "mpsgraph")
    monkeypatch.setenv("METALLIC_FORCE_SOFTMAX_BACKEND", "mpsgraph")
    ctx = mt.Context(device=device)
    q, k, v = (ctx.tensor(x) for x in sdpa_inputs((1, 2, 2, 3, 3, 8), np.float32, seed=7))
    mt.ops.sdpa(q, k, v)
    mt.ops.softmax(q)
    assert ctx.backend_events() == [
        ("sdpa", "mpsgraph", "forced by METALLIC_FORCE_SDPA_BACKEND"),
        ("softmax", "mpsgraph", "forced by METALLIC_FORCE_SOFTMAX_BACKEND"),
    ]
    ctx.set_backend("sdpa", "legacy")  # the context's override beats the environment
    mt.ops.sdpa(q, k, v)
    assert ctx.backend_events() == [("sdpa", "legacy", "forced on this context")]


def test_auto_does_not_pick_mpsgraph_on_the_host(ctx: mt.Context) -> None:
    if ctx.device != "host":
        pytest.skip("the host device's auto choices")
    q = ctx.tensor(np.ones((1, 1, 2, 4), np.float32))
    mt.ops.sdpa(q, q, q)
    mt.ops.softmax(q)
    mt.ops.matmul(q, q, transpose_b=True)
    assert [e[1] for e in ctx.backend_events()] == ["row", "row", "blas"]


def test_unknown_backend_lists_the_valid_ones(
    ctx: mt.Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(
        mt.ArgumentError, match=r"unknown backend 'graph' for sdpa.*valid: auto, legacy.*mpsgraph"
    ):
        ctx.set_backend("sdpa", "graph")
    monkeypatch.setenv("METALLIC_FORCE_MATMUL_BACKEND", "mpsgrap")
    fresh = mt.Context(device=ctx.device)
    a = fresh.tensor(np.ones((2, 2), np.float32))
    with pytest.raises(
        mt.ArgumentError,
        match=r"METALLIC_FORCE_MATMUL_BACKEND: unknown backend 'mpsgrap'.*mpsgraph",
    ):
        mt.ops.matmul(a, a)


def test_executable_cache_hits_misses_and_evicts(ctx: mt.Context) -> None:
    ctx.set_backend("sdpa", "mpsgraph")
    assert ctx.graph_cache_stats() == {
        "hits": 0,
        "misses": 0,
        "evictions": 0,
        "entries": 0,
        "capacity": 64,
    }
    q, k, v = (ctx.tensor(x) for x in sdpa_inputs((1, 2, 1, 4, 6, 8), np.float32, seed=8))
    mt.ops.sdpa(q, k, v)
    mt.ops.sdpa(q, k, v)  # the same shapes: the compiled graph is reused
    assert ctx.graph_cache_stats() == {
        "hits": 1,
        "misses": 1,
        "evictions": 0,
        "entries": 1,
        "capacity": 64,
    }
    mt.ops.sdpa(q, k[:, :, :5], v[:, :, :5])  # another kv_len
    mt.ops.sdpa(q, k, v, scale=0.5)  # another attribute
    mt.ops.sdpa(q.astype("f16"), k.astype("f16"), v.astype("f16"))  # another dtype and policy
    stats = ctx.graph_cache_stats()
    assert (stats["hits"], stats["misses"], stats["entries"]) == (1, 4, 4)
    ctx.set_graph_cache_capacity(2)
    assert ctx.graph_cache_stats()["evictions"] == 2
    mt.ops.sdpa(q, k, v)  # the oldest, evicted: compiled again
    assert ctx.graph_cache_stats() == {
        "hits": 1,
        "misses": 5,
        "evictions": 3,
        "entries": 2,
        "capacity": 2,
    }
    with pytest.raises(mt.ArgumentError, match="at least 1"):
        ctx.set_graph_cache_capacity(0)


def test_cache_capacity_from_the_environment(device: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("METALLIC_GRAPH_CACHE_CAPACITY", "3")
    assert mt.Context(device=device).graph_cache_stats()["capacity"] == 3
    monkeypatch.setenv("METALLIC_GRAPH_CACHE_CAPACITY", "lots")
    with pytest.raises(mt.ArgumentError, match="METALLIC_GRAPH_CACHE_CAPACITY must be a positive"):
        mt.Context(device=device)


def test_causal_masks_are_reused(ctx: mt.Context) -> None:
    ctx.set_backend("sdpa", "mpsgraph")
    ctx.set_backend("softmax", "mpsgraph")
    q, k, v = (ctx.tensor(x) for x in sdpa_inputs((1, 2, 1, 4, 6, 8), np.float32, seed=9))
    mt.ops.sdpa(q, k, v, causal=True)
    mt.ops.sdpa(q, k, v, causal=True)
    mt.ops.softmax(ctx.tensor(np.ones((3, 4, 6), np.float32)), causal=True)  # the same [4, 6] mask
    assert ctx.mask_arena_stats() == {
        "hits": 2,
        "misses": 1,
        "evictions": 0,
        "entries": 1,
        "capacity": 16,
    }
    mt.ops.sdpa(q.astype("f16"), k.astype("f16"), v.astype("f16"), causal=True)  # another dtype
    mt.ops.sdpa(q[:, :, :1], k, v, causal=True)  # decode: one query sees every key, no mask
    assert ctx.mask_arena_stats()["misses"] == 2
    for n in range(3, 20):  # more prefill lengths than the arena keeps
        mt.ops.softmax(ctx.tensor(np.ones((n, n), np.float32)), causal=True)
    stats = ctx.mask_arena_stats()
    assert stats["entries"] == 16 and stats["evictions"] == 19 - 16  # 19 distinct masks


def test_graph_kernels_publish_signatures() -> None:
    kernels = {k["name"]: k for k in mt.graph_kernels()}
    assert sorted(kernels) == ["matmul", "sdpa", "softmax"]
    sdpa = kernels["sdpa"]
    assert [(b["name"], b["axes"], b["optional"]) for b in sdpa["inputs"]][:2] == [
        ("q", "(B, H, Sq, D)", False),
        ("k", "(B, Hkv, Skv, D)", False),
    ]
    assert {b["name"] for b in sdpa["inputs"] if b["optional"]} == {"mask", "causal_mask"}
    assert sdpa["policies"] == ["f32 storage, f32 accumulation", "f16 storage, f32 accumulation"]
    assert any("Skv - Sq" in b["doc"] for b in sdpa["inputs"])


def test_cli_info_graph_prints_signatures_and_policies() -> None:
    exe = shutil.which("metallic")
    cmd = [exe] if exe else [sys.executable, "-m", "metallic.cli"]
    result = subprocess.run(
        [*cmd, "--device", "host", "info", "--graph"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "graph kernels (the mpsgraph backend of their op):" in out
    assert "    input  q: (B, H, Sq, D) -- queries" in out
    assert "input  mask: broadcast to (B, H, Sq, Skv), optional" in out
    assert out.count("policies: f32 storage, f32 accumulation; f16 storage, f32 accumulation") == 3
    assert "ops:" not in out  # --graph prints the graph kernels instead of the ops


def test_graph_runs_in_queue_order_with_dispatches(ctx: mt.Context) -> None:
    """A kernel's output feeds a graph and the graph's output feeds a kernel, all in one command
    buffer before any wait: the graph sees the first result and the last kernel sees the graph's."""
    ctx.set_backend("softmax", "mpsgraph")
    x = np.random.default_rng(10).standard_normal((5, 9)).astype(np.float32)
    t = ctx.tensor(x)
    before = ctx.active_sequence
    out = mt.ops.softmax(t + t) * 2.0
    assert ctx.active_sequence == before  # nothing committed yet
    e = np.exp(2 * x - (2 * x).max(axis=-1, keepdims=True))
    np.testing.assert_allclose(out.numpy(), 2 * e / e.sum(axis=-1, keepdims=True), rtol=1e-5)
