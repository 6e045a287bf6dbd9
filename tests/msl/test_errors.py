"""Error paths: a barrier only part of a threadgroup reaches, a source that does not compile, an
unsupported construct. Each is an exception that names the kernel / file and line."""

from __future__ import annotations

import metallic as mt
import numpy as np
import pytest

DIVERGENT = r"""
#include <metal_stdlib>
using namespace metal;
kernel void divergent_barrier(device float* out [[buffer(0)]],
                              uint i [[thread_position_in_threadgroup]]) {
  if (i >= 5) return;
  threadgroup_barrier(mem_flags::mem_threadgroup);
  out[i] = 1.0f;
}
kernel void divergent_simd(device float* out [[buffer(0)]], uint i [[thread_index_in_simdgroup]]) {
  if (i < 4) {
    simdgroup_barrier(mem_flags::mem_none);
  }
  out[i] = 1.0f;
}
"""


def test_partial_barrier_is_a_device_error(msl):
    lib = msl.library(DIVERGENT, name="divergent")
    with pytest.raises(mt.DeviceError) as e:
        msl.run(lib, "divergent_barrier", np.zeros(8, np.float32), grid=(8,), threadgroup=(8,))
    msg = str(e.value)
    assert "divergent_barrier" in msg and "threadgroup_barrier" in msg
    assert "(5,0,0)" in msg  # names a thread that returned without reaching it
    # The context stays usable.
    (out,) = msl.run(lib, "divergent_barrier", np.zeros(5, np.float32), grid=(5,), threadgroup=(5,))
    np.testing.assert_array_equal(out, 1)


def test_partial_simdgroup_barrier_is_a_device_error(msl):
    lib = msl.library(DIVERGENT, name="divergent")
    with pytest.raises(mt.DeviceError, match="divergent_simd"):
        msl.run(lib, "divergent_simd", np.zeros(32, np.float32), grid=(32,), threadgroup=(32,))


def _compile(msl, source: str, name: str, include_dirs=()):
    lib = mt.compile_library(source, name=name, include_dirs=include_dirs)
    return lib.function_names(msl.ctx)


def test_compile_error_names_file_and_line(msl):
    src = (
        "#include <metal_stdlib>\nusing namespace metal;\n\n"
        "kernel void k(device float* out [[buffer(0)]], uint i [[thread_position_in_grid]]) {\n"
        "  out[i] = not_declared + 1.0f;\n}\n"
    )
    with pytest.raises(mt.KernelCompileError) as e:
        _compile(msl, src, "broken_kernel")
    msg = str(e.value)
    assert "broken_kernel.metal:5" in msg and "not_declared" in msg
    assert "/tmp" not in msg.split("\n")[0]


def test_compile_error_in_included_header(msl, tmp_path):
    (tmp_path / "helpers.h").write_text("inline float f(float x) {\n  return x +;\n}\n")
    src = '#include <metal_stdlib>\n#include "helpers.h"\nkernel void k(device float* o [[buffer(0)]]) { o[0] = f(1.0f); }\n'
    with pytest.raises(mt.KernelCompileError) as e:
        _compile(msl, src, "header_error", [str(tmp_path)])
    assert "helpers.h:2" in str(e.value)


def test_syntax_error_names_line(msl):
    src = "#include <metal_stdlib>\nkernel void k(device float* o [[buffer(0)]]) {\n  o[0] = 1.0f\n}\n"
    with pytest.raises(mt.KernelCompileError, match=r"syntax_error\.metal:3"):
        _compile(msl, src, "syntax_error")


@pytest.mark.parametrize(
    "param,what",
    [
        ("texture2d<float, access::read> t [[texture(0)]]", "texture"),
        ("sampler s [[sampler(0)]]", "sampler"),
        ("float4 p", "no attribute"),  # device/constant pointers get implicit indices
    ],
)
def test_unsupported_construct_is_a_compile_error(msl, param, what):
    src = (
        "#include <metal_stdlib>\nusing namespace metal;\n"
        f"kernel void k({param},\n              device float* out [[buffer(0)]]) {{\n"
        "  out[0] = 1.0f;\n}\n"
    )
    with pytest.raises(mt.KernelCompileError) as e:
        _compile(msl, src, "unsupported")
    msg = str(e.value)
    assert "unsupported.metal:3" in msg and what in msg


def test_unknown_kernel_and_constant(msl):
    lib = msl.library(DIVERGENT, name="divergent")
    with pytest.raises(mt.MetallicError, match="nope"):
        msl.run(lib, "nope", np.zeros(1, np.float32), grid=(1,), threadgroup=(1,))
    with pytest.raises(mt.ArgumentError, match="not a function constant"):
        lib.function("divergent_barrier", constants={"missing": 1})
