"""The run-time kernel API (mt.compile_library): compiling at the call, pipeline properties,
argument binding, and the clear errors its bad inputs give (checked against each kernel's
parameters, which the host device's launchers reflect)."""

from __future__ import annotations

import gc
import weakref

import metallic as mt
import numpy as np
import pytest
from metallic import _core

SOURCE = """
#include <metal_stdlib>
using namespace metal;
constant uint bias [[function_constant(3)]];
constant bool use_scale [[function_constant(4)]];
constant float offset [[function_constant(5)]];
struct Params { uint n; float scale; };
kernel void scale(device const float* x [[buffer(0)]], device float* y [[buffer(1)]],
                  constant float& s [[buffer(2)]], uint i [[thread_position_in_grid]]) {
  y[i] = x[i] * s + float(bias);
}
kernel void fill(device float* y [[buffer(0)]], uint i [[thread_position_in_grid]]) {
  y[i] = 7.0;
}
kernel void with_params(device float* y [[buffer(0)]], constant Params& p [[buffer(1)]],
                        constant float* table [[buffer(2)]], uint i [[thread_position_in_grid]]) {
  if (i < p.n) y[i] = p.scale * table[i % 2];
}
kernel void optional_scale(device float* y [[buffer(0)]],
                           constant float& s [[buffer(1), function_constant(use_scale)]],
                           uint i [[thread_position_in_grid]]) {
  y[i] = (use_scale ? s : 1.0f) + offset;
}
// Sums each threadgroup's values through threadgroup memory the caller sizes.
kernel void group_sum(device const float* x [[buffer(0)]], device float* sums [[buffer(1)]],
                      threadgroup float* scratch [[threadgroup(0)]],
                      uint i [[thread_position_in_grid]], uint t [[thread_index_in_threadgroup]],
                      uint g [[threadgroup_position_in_grid]],
                      uint n [[threads_per_threadgroup]]) {
  scratch[t] = x[i];
  threadgroup_barrier(mem_flags::mem_threadgroup);
  if (t == 0) {
    float s = 0;
    for (uint k = 0; k < n; ++k) s += scratch[k];
    sums[g] = s;
  }
}
// Threadgroup variables of its own (and of a helper it calls): 64 floats + 3 half4 -> 256 + 32.
inline float helper_tile(uint t) {
  threadgroup half4 small[3];
  if (t < 3) small[t] = half4(1.0h);
  threadgroup_barrier(mem_flags::mem_threadgroup);
  return float(small[0].x);
}
kernel void own_tiles(device float* y [[buffer(0)]], uint t [[thread_index_in_threadgroup]]) {
  threadgroup float tile[64];
  tile[t] = float(t);
  threadgroup_barrier(mem_flags::mem_threadgroup);
  y[t] = tile[63 - t] + helper_tile(t);
}
kernel void tile_and_scratch(device float* y [[buffer(0)]],
                             threadgroup float* scratch [[threadgroup(0)]],
                             uint t [[thread_index_in_threadgroup]]) {
  threadgroup float tile[64];
  tile[t] = 1.0f;
  scratch[t] = 2.0f;
  threadgroup_barrier(mem_flags::mem_threadgroup);
  y[t] = tile[t] + scratch[t];
}
"""


@pytest.fixture(scope="module")
def host() -> mt.Context:
    return mt.Context(device="host")


@pytest.fixture(scope="module")
def lib(host: mt.Context) -> mt.Library:
    return mt.compile_library(SOURCE, name="api_checks", ctx=host)


def test_compile_errors_appear_at_the_call(host: mt.Context) -> None:
    bad = "kernel void k(device float* y [[buffer(0)]]) { y[0] = undeclared; }\n"
    with pytest.raises(mt.KernelCompileError, match=r"bad_source\.metal:1.*undeclared"):
        mt.compile_library(bad, name="bad_source", ctx=host)
    with pytest.raises(mt.KernelCompileError, match="undeclared"):
        mt.compile_library(bad, name="bad_source")  # the default context


def test_one_library_cache_per_context(lib: mt.Library, host: mt.Context) -> None:
    assert lib.context is host
    # The context's cache (in the core) returns the library compiled last; compile_library
    # compiles again (a header may have changed: test_compile_cache.py) and replaces it.
    assert _core.compile_library(host, SOURCE, "api_checks", []) is lib._compiled
    again = mt.compile_library(SOURCE, name="api_checks", ctx=host)
    assert again._compiled is not lib._compiled
    assert _core.compile_library(host, SOURCE, "api_checks", []) is again._compiled
    other = mt.Context(device="host")
    assert _core.compile_library(other, SOURCE, "api_checks", []) is not lib._compiled


def test_properties_and_binding(lib: mt.Library, host: mt.Context) -> None:
    assert sorted(lib.function_names()) == [
        "fill",
        "group_sum",
        "optional_scale",
        "own_tiles",
        "scale",
        "tile_and_scratch",
        "with_params",
    ]
    fn = lib.function("scale", constants={"bias": 1})
    assert fn.max_total_threads_per_threadgroup == 1024
    assert fn.thread_execution_width == 32
    x = host.tensor(np.arange(5, dtype=np.float32))
    y = host.zeros(5)
    with host.profile() as p:
        fn(x, y, np.float32(3), grid=(5,), threadgroup=(2,))  # partial last threadgroup
        np.testing.assert_array_equal(y.numpy(), np.arange(5) * 3 + 1)
        by_index = lib.function("scale", constants={3: 2})
        by_index(x, y, np.array([2.0], np.float32), grid=(5,), threadgroup=(5,))
        np.testing.assert_array_equal(y.numpy(), np.arange(5) * 2 + 2)
        lib.function("fill")(y, grid=(1,), threadgroup=(1,), dispatch="threadgroups")
        assert y.numpy()[0] == 7 and y.numpy()[1] == 4  # one whole threadgroup of one thread
    assert [(r.label, r.grid, r.threadgroup) for r in p.records] == [
        ("scale", (5, 1, 1), (2, 1, 1)),
        ("scale", (5, 1, 1), (5, 1, 1)),
        ("fill", (1, 1, 1), (1, 1, 1)),
    ]


def test_a_library_is_usable_on_another_context(lib: mt.Library) -> None:
    ctx = mt.Context(device="host")
    y = ctx.zeros(3)
    lib.function("fill")(y, grid=(3,), threadgroup=(3,))  # compiled for ctx, from its cache
    np.testing.assert_array_equal(y.numpy(), [7, 7, 7])


def test_inline_bytes_must_hold_the_parameter(lib: mt.Library, host: mt.Context) -> None:
    x, y = host.zeros(4), host.zeros(4)
    scale = lib.function("scale", constants={"bias": 0})
    # Too few bytes would read past the binding: an error on the host (Metal's validation too).
    with pytest.raises(mt.ArgumentError, match=r"\[\[buffer\(2\)\]\].*s.*needs 4 bytes; got 2"):
        scale(x, y, np.float16(3), grid=(4,), threadgroup=(4,))
    params = np.array([(4, 2.5)], dtype=[("n", "<u4"), ("scale", "<f4")])
    table = np.array([1.0, 10.0], np.float32)
    fn = lib.function("with_params")
    fn(y, params, table, grid=(4,), threadgroup=(4,))
    np.testing.assert_array_equal(y.numpy(), [2.5, 25, 2.5, 25])
    with pytest.raises(mt.ArgumentError, match=r"Params& p.*needs 8 bytes; got 4"):
        fn(y, np.uint32(4), table, grid=(4,), threadgroup=(4,))
    # More bytes than the parameter are accepted, as on Metal: the kernel reads the leading ones.
    longer = np.array([(2, 0.5, -1.0)], dtype=[("n", "<u4"), ("scale", "<f4"), ("x", "<f4")])
    fn(y, longer, table, grid=(4,), threadgroup=(4,))
    np.testing.assert_array_equal(y.numpy(), [0.5, 5, 2.5, 25])
    with pytest.raises(mt.ArgumentError, match="whole elements of 4 bytes; got 6"):
        fn(y, params, np.zeros(3, np.float16), grid=(4,), threadgroup=(4,))
    with pytest.raises(mt.ArgumentError, match="needs 8 bytes; the tensor bound to it holds 4"):
        fn(y, host.zeros(1), table, grid=(4,), threadgroup=(4,))
    # A tensor of enough bytes may back a constant reference, as on Metal.
    fn(y, host.tensor(params.view(np.uint8)), table, grid=(4,), threadgroup=(4,))
    np.testing.assert_array_equal(y.numpy(), [2.5, 25, 2.5, 25])


def test_argument_count_is_checked(lib: mt.Library, host: mt.Context) -> None:
    y = host.zeros(4)
    fill = lib.function("fill")
    with pytest.raises(mt.ArgumentError, match=r"fill has no parameter \[\[buffer\(1\)\]\].*0 y"):
        fill(y, y, grid=(4,), threadgroup=(4,))
    scale = lib.function("scale", constants={"bias": 0})
    with pytest.raises(mt.ArgumentError, match=r"nothing is bound to \[\[buffer\(2\)\]\]"):
        scale(y, y, grid=(4,), threadgroup=(4,))
    # A parameter a function constant disables may stay unbound; None leaves any index unbound.
    opt = lib.function("optional_scale", constants={"use_scale": False, "offset": 0.5})
    opt(y, grid=(4,), threadgroup=(4,))
    np.testing.assert_array_equal(y.numpy(), 1.5)
    opt(y, None, grid=(4,), threadgroup=(4,))
    on = lib.function("optional_scale", constants={"use_scale": True, "offset": 0.0})
    on(y, np.float32(3), grid=(4,), threadgroup=(4,))
    np.testing.assert_array_equal(y.numpy(), 3)


def test_threadgroup_memory_is_checked(lib: mt.Library, host: mt.Context) -> None:
    x = host.tensor(np.arange(64, dtype=np.float32))
    sums = host.zeros(4)
    fn = lib.function("group_sum")
    assert fn.static_threadgroup_memory_length == 0
    fn(x, sums, grid=(64,), threadgroup=(16,), threadgroup_memory={0: 16 * 4})
    np.testing.assert_array_equal(sums.numpy(), np.arange(64).reshape(4, 16).sum(axis=1))
    with pytest.raises(mt.ArgumentError, match=r"scratch.*has no memory: pass threadgroup_memory"):
        fn(x, sums, grid=(64,), threadgroup=(16,))
    with pytest.raises(mt.ArgumentError, match="positive multiple of 16 .use 16."):
        fn(x, sums, grid=(64,), threadgroup=(16,), threadgroup_memory={0: 4})
    with pytest.raises(mt.ArgumentError, match="the device allows 32768"):
        fn(x, sums, grid=(64,), threadgroup=(16,), threadgroup_memory={0: 65536})
    with pytest.raises(mt.ArgumentError, match=r"no parameter \[\[threadgroup\(1\)\]\]"):
        fn(x, sums, grid=(64,), threadgroup=(16,), threadgroup_memory={0: 64, 1: 64})
    with pytest.raises(mt.ArgumentError, match="indices 0..30"):
        fn(x, sums, grid=(64,), threadgroup=(16,), threadgroup_memory={31: 64})


@pytest.mark.parametrize("checks", [False, True])
def test_static_threadgroup_memory_is_reported(lib: mt.Library, checks: bool) -> None:
    ctx = mt.Context(device="host", host_checks=checks)
    tiles = lib.function("own_tiles")
    assert tiles.pipeline(ctx).static_threadgroup_memory_length == 64 * 4 + 32
    assert lib.function("fill").pipeline(ctx).static_threadgroup_memory_length == 0
    y = ctx.zeros(64)
    tiles(y, grid=(64,), threadgroup=(64,), ctx=ctx)
    np.testing.assert_array_equal(y.numpy(), np.arange(63, -1, -1) + 1)
    # The kernel's own variables count against the device's limit too.
    both = lib.function("tile_and_scratch")
    both(y, grid=(64,), threadgroup=(64,), threadgroup_memory={0: 32768 - 256}, ctx=ctx)
    np.testing.assert_array_equal(y.numpy(), 3)
    with pytest.raises(mt.ArgumentError, match=r"uses 33024 bytes .*\(256 declared in the kernel"):
        both(y, grid=(64,), threadgroup=(64,), threadgroup_memory={0: 32768}, ctx=ctx)


def test_bad_dispatch_shapes(lib: mt.Library, host: mt.Context) -> None:
    y = host.zeros(4)
    fill = lib.function("fill")
    with pytest.raises(mt.ArgumentError, match="exceeds the pipeline's limit of 1024"):
        fill(y, grid=(4096,), threadgroup=(2048,))
    with pytest.raises(mt.ArgumentError, match="at least 1"):
        fill(y, grid=(4,), threadgroup=(0,))
    with pytest.raises(mt.ArgumentError, match="1 to 3"):
        fill(y, grid=(1, 1, 1, 1), threadgroup=(1,))
    with pytest.raises(mt.ArgumentError, match="'threads' or 'threadgroups'"):
        fill(y, grid=(4,), threadgroup=(4,), dispatch="warps")
    with pytest.raises(mt.ArgumentError, match=r"at most 2\^32-1"):
        fill(y, grid=(2**33,), threadgroup=(1,))
    with pytest.raises(mt.ArgumentError, match="1 to 3 sizes"):
        fill(y, grid=("a",), threadgroup=(1,))
    with pytest.raises(mt.ArgumentError, match=r"threads; a grid has at most 2\^32-1"):
        fill(y, grid=(2**31,), threadgroup=(4,), dispatch="threadgroups")


def test_bad_arguments(lib: mt.Library, host: mt.Context) -> None:
    y = host.zeros(4)
    scale = lib.function("scale", constants={"bias": 0})
    with pytest.raises(mt.ArgumentError, match="explicit type"):
        scale(y, y, 3.0, grid=(4,), threadgroup=(4,))
    with pytest.raises(mt.ArgumentError, match="4096 bytes"):
        scale(y, y, np.zeros(2000, np.float32), grid=(4,), threadgroup=(4,))
    with pytest.raises(mt.ArgumentError, match="not a function constant.*declared: bias"):
        lib.function("scale", constants={"bais": 1})
    with pytest.raises(mt.ArgumentError, match="given twice"):
        lib.function("scale", constants={"bias": 1, 3: 2})
    with pytest.raises(mt.ArgumentError, match="give a bool, int or float"):
        lib.function("scale", constants={9: "x"})
    with pytest.raises(
        mt.MetallicError, match=r"no kernel function .nope. \(it has: scale, fill, "
    ):
        lib.function("nope")(y, grid=(4,), threadgroup=(4,))
    with pytest.raises(mt.ArgumentError, match="C identifier"):
        mt.compile_library(SOURCE, name="not a name")


@pytest.mark.parametrize(
    ("constants", "message"),
    [
        ({"bias": "3"}, r"function constant 3 \(uint\) must be an integer .*got '3'"),
        ({"bias": -1}, r"function constant 3 \(uint\) must be an integer from 0 to 4294967295"),
        ({"bias": 2.5}, r"function constant 3 \(uint\) must be an integer"),
        ({"use_scale": "yes"}, r"function constant 4 \(bool\) takes True or False"),
        ({"offset": "x"}, r"function constant 5 \(float\) takes a number"),
    ],
)
def test_function_constant_values_are_checked(
    lib: mt.Library, constants: dict[str, object], message: str
) -> None:
    with pytest.raises(mt.ArgumentError, match=message):
        lib.function("scale", constants=constants).pipeline()


def test_a_library_does_not_keep_other_contexts_alive(lib: mt.Library) -> None:
    ctx = mt.Context(device="host")
    lib.function_names(ctx)
    ref = weakref.ref(ctx)
    del ctx
    gc.collect()
    assert ref() is None
