"""The run-time kernel API (mt.compile_library): pipeline properties, argument binding, and the
clear errors its bad inputs give."""

from __future__ import annotations

import gc
import weakref

import metallic as mt
import numpy as np
import pytest

SOURCE = """
#include <metal_stdlib>
using namespace metal;
constant uint bias [[function_constant(3)]];
kernel void scale(device const float* x [[buffer(0)]], device float* y [[buffer(1)]],
                  constant float& s [[buffer(2)]], uint i [[thread_position_in_grid]]) {
  y[i] = x[i] * s + float(bias);
}
kernel void fill(device float* y [[buffer(0)]], uint i [[thread_position_in_grid]]) {
  y[i] = 7.0;
}
"""


@pytest.fixture(scope="module")
def lib() -> mt.Library:
    return mt.compile_library(SOURCE, name="api_checks")


@pytest.fixture
def host() -> mt.Context:
    return mt.Context(device="host")


def test_properties_and_binding(lib: mt.Library, host: mt.Context) -> None:
    assert sorted(lib.function_names(host)) == ["fill", "scale"]
    fn = lib.function("scale", constants={"bias": 1})
    assert fn.max_total_threads_per_threadgroup == 1024
    assert fn.thread_execution_width == 32
    x = host.tensor(np.arange(5, dtype=np.float32))
    y = host.zeros(5)
    fn(x, y, np.float32(3), grid=(5,), threadgroup=(2,))  # partial last threadgroup
    np.testing.assert_array_equal(y.numpy(), np.arange(5) * 3 + 1)
    by_index = lib.function("scale", constants={3: 2})
    by_index(x, y, np.array([2.0], np.float32), grid=(5,), threadgroup=(5,))
    np.testing.assert_array_equal(y.numpy(), np.arange(5) * 2 + 2)
    lib.function("fill")(y, grid=(1,), threadgroup=(1,), dispatch="threadgroups")
    assert y.numpy()[0] == 7 and y.numpy()[1] == 4  # one whole threadgroup of one thread
    assert [label for label, _ in host.profile()] == ["scale", "scale", "fill"]


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
        mt.MetallicError, match=r"no kernel function .nope. \(it has: scale, fill\)"
    ):
        lib.function("nope")(y, grid=(4,), threadgroup=(4,))
    with pytest.raises(mt.ArgumentError, match="C identifier"):
        mt.compile_library(SOURCE, name="not a name")


def test_a_library_does_not_keep_contexts_alive(lib: mt.Library) -> None:
    ctx = mt.Context(device="host")
    lib.function_names(ctx)
    ref = weakref.ref(ctx)
    del ctx
    gc.collect()
    assert ref() is None
