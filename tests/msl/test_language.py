"""Language constructs real kernel libraries use: function constants (incl. program-scope
constants derived from them), template kernels with [[host_name]] instantiations in both forms,
templated helpers, structs with methods, constexpr, static_assert, METAL_FUNC, pragmas, includes
of the library's own headers, macros generating kernels, both kernel spellings, namespaces,
lambdas, half literals."""

from __future__ import annotations

import metallic as mt
import numpy as np
import pytest

FC_SOURCE = r"""
#include <metal_stdlib>
using namespace metal;

constant bool has_bias [[function_constant(0)]];
constant int repeat_count [[function_constant(1)]];
constant float fc_scale [[function_constant(2)]];
constant bool use_square [[function_constant(3)]];
constant uint fc_unused [[function_constant(4)]];
constant half fc_half [[function_constant(5)]];
// Program-scope constants initialised from function constants (MLX style).
constant bool bias_and_square = has_bias && use_square;
constant bool has_repeat = is_function_constant_defined(repeat_count);
constant int reps = has_repeat ? repeat_count : 1;
constant float scale2 = fc_scale * 2.0f;

kernel void fc_kernel(device const float* x [[buffer(0)]], device float* out [[buffer(1)]],
                      device const float* bias [[buffer(2)]],
                      uint i [[thread_position_in_grid]]) {
  float v = x[i];
  for (int r = 0; r < reps; ++r) v = v * fc_scale;
  if (has_bias) v += bias[i];
  if (use_square) v = v * v;
  if (bias_and_square) v += 1000.0f;
  out[i] = v + scale2 * 0.0f + (is_function_constant_defined(fc_unused) ? 1e6f : 0.0f) +
           float(fc_half);
}

// A templated kernel specialised by a function constant.
constant uint block_n [[function_constant(10)]];
constant bool block_n_set = is_function_constant_defined(block_n);
constant uint kBlock = block_n_set ? block_n : 4u;
template <typename T>
kernel void fc_template(device const T* x [[buffer(0)]], device T* out [[buffer(1)]],
                        uint i [[thread_position_in_grid]]) {
  T acc = T(0);
  for (uint k = 0; k < kBlock; ++k) acc += x[i * kBlock + k];
  out[i] = acc;
}
template [[host_name("fc_template_float")]] kernel void fc_template<float>(
    device const float*, device float*, uint);
template [[host_name("fc_template_int")]] kernel void fc_template<int>(
    device const int*, device int*, uint);
"""

LANG_HEADER = r"""
#pragma once
#include <metal_stdlib>
using namespace metal;

#define MY_UNROLL _Pragma("clang loop unroll(full)")

namespace mylib {

template <typename T>
METAL_FUNC T square(T x) {
  return x * x;
}

struct Affine {
  float a, b;
  METAL_FUNC float operator()(float x) const { return a * x + b; }
  float apply_twice(float x) const { return (*this)((*this)(x)); }
  static constexpr int kTag = 7;
};

template <typename T, int N>
struct Vec {
  T v[N];
  T sum() const {
    T s = T(0);
#pragma clang loop unroll(full)
    for (int k = 0; k < N; ++k) s += v[k];
    return s;
  }
  struct Inner {
    int depth;
  };
};

}  // namespace mylib
"""

LANG_SOURCE = r"""
#include "mylib/lang_common.h"
#include <metal_simdgroup>

using namespace mylib;

static_assert(sizeof(float4) == 16, "float4 is 16 bytes");
constexpr constant int kWidth = 4;
static constant constexpr int kShift = 2;

template <typename T>
struct AddOp {
  static constexpr constant T identity = T(0);
  T operator()(T a, T b) const { return a + b; }
};
template <typename T>
struct MaxOp {
  static constexpr constant T identity = T(-1000);
  T operator()(T a, T b) const { return metal::max(a, b); }
};

template <typename T, typename Op>
kernel void reduce4(device const T* in [[buffer(0)]], device T* out [[buffer(1)]],
                    uint i [[thread_position_in_grid]]) {
  Op op;
  T acc = Op::identity;
  MY_UNROLL
  for (int k = 0; k < kWidth; ++k) acc = op(acc, in[i * kWidth + k]);
  out[i] = acc;
}
// Full-parameter-list form, with template arguments that are themselves templates.
template [[host_name("reduce4_add_float")]] kernel void reduce4<float, AddOp<float>>(
    device const float* in [[buffer(0)]], device float* out [[buffer(1)]],
    uint i [[thread_position_in_grid]]);
// decltype form.
template [[host_name("reduce4_max_int")]] [[kernel]] decltype(reduce4<int, MaxOp<int>>)
    reduce4<int, MaxOp<int>>;

// Macros generating kernels, with token pasting and a [[kernel]] spelling.
#define DEFINE_SCALE(NAME, T, K)                                                      \
  [[kernel]] void scale_##NAME(device const T* in [[buffer(0)]],                      \
                               device T* out [[buffer(1)]],                           \
                               uint i [[thread_position_in_grid]]) {                  \
    out[i] = in[i] * T(K);                                                            \
  }
DEFINE_SCALE(f32, float, 3)
DEFINE_SCALE(f16, half, 2)

// Templated kernel instantiated from a macro with a string-pasted host name.
template <typename T>
[[kernel]] void square_kernel(device const T* in [[buffer(0)]], device T* out [[buffer(1)]],
                              uint i [[thread_position_in_grid]]) {
  out[i] = square(in[i]);
}
#define INSTANTIATE_SQUARE(tname, T) \
  template [[host_name("square_" #tname)]] [[kernel]] decltype(square_kernel<T>) square_kernel<T>;
INSTANTIATE_SQUARE(float32, float)
INSTANTIATE_SQUARE(int32, int)
INSTANTIATE_SQUARE(float16, half)

// Structs with methods, nested structs, lambdas, constexpr functions, half literals.
constexpr int twice(int x) { return 2 * x; }
kernel void structs_lambdas(device const float* in [[buffer(0)]], device float* out [[buffer(1)]],
                            uint i [[thread_position_in_grid]]) {
  Affine f{2.0f, 1.0f};
  Vec<float, 3> v = {{in[i], 1.0f, 2.0f}};
  Vec<float, 3>::Inner inner{twice(3)};
  auto add = [&](float x) { return x + v.sum(); };
  auto mul = [](float x, float y) -> float { return x * y; };
  constexpr int tag = Affine::kTag;
  half h = 1.5h + half(0.25);
  out[i] = mul(add(f.apply_twice(in[i])), 0.5f) + float(inner.depth) + float(tag) + float(h) +
           float(kShift);
}

namespace inner_ns {
kernel void namespaced(device float* out [[buffer(0)]], uint i [[thread_position_in_grid]]) {
  out[i] = metal::fabs(-float(i)) + metal::precise::sqrt(4.0f) + fast::exp2(1.0f);
}
}  // namespace inner_ns

// Unnamed parameters, a `kernel` on its own line, attributes after the type.
kernel
void
odd_layout(device float* out [[ buffer(0) ]],
           device const float* [[buffer(1)]],
           uint i [[ thread_position_in_grid ]]) {
  out[i] = 1.0f;
}

// Pointer casts between address spaces and types; reinterpret as vectors.
kernel void casts(device const uchar* raw [[buffer(0)]], device float* out [[buffer(1)]],
                  uint i [[thread_position_in_grid]]) {
  device const float4* v = reinterpret_cast<device const float4*>(raw);
  device const packed_float3* p = (device const packed_float3*)(raw + 64);
  out[i] = v[i].x + v[i].w + p[i].z;
}

// Conditional compilation on __METAL_VERSION__ and __HAVE_ ... macros.
#if defined(__METAL_VERSION__) && __METAL_VERSION__ >= 230
#define VERSION_OK 1.0f
#else
#define VERSION_OK 0.0f
#endif
kernel void version(device float* out [[buffer(0)]]) { out[0] = VERSION_OK; }
"""


@pytest.fixture(scope="module")
def fc_lib(msl):
    return msl.library(FC_SOURCE, name="function_constants")


@pytest.fixture(scope="module")
def lang_lib(msl, tmp_path_factory):
    inc = tmp_path_factory.mktemp("inc")
    (inc / "mylib").mkdir()
    (inc / "mylib" / "lang_common.h").write_text(LANG_HEADER)
    return msl.library(LANG_SOURCE, name="language", include_dirs=[str(inc)])


@pytest.mark.parametrize(
    "consts",
    [
        {"has_bias": False, "repeat_count": 2, "fc_scale": 3.0, "use_square": False},
        {"has_bias": True, "fc_scale": 0.5, "use_square": False, "fc_half": 0.25},
        {"has_bias": True, "repeat_count": 1, "fc_scale": 2.0, "use_square": True, "fc_unused": 1},
        {0: False, 1: 3, 2: -1.0, 3: True},
    ],
)
def test_function_constants(msl, fc_lib, consts):
    x = np.arange(8, dtype=np.float32) - 3
    bias = np.full(8, 10.0, np.float32)
    (_, out, _) = msl.run(
        fc_lib,
        "fc_kernel",
        x,
        np.zeros(8, np.float32),
        bias,
        grid=(8,),
        threadgroup=(8,),
        constants=consts,
    )
    c = {
        fc_lib.function("fc_kernel").library.constants[k][0] if isinstance(k, str) else k: v
        for k, v in consts.items()
    }
    v = x * np.float32(c[2]) ** c.get(1, 1)
    if c[0]:
        v = v + bias
    if c[3]:
        v = v * v
    if c[0] and c[3]:
        v = v + 1000
    v = v + (1e6 if 4 in c else 0) + c.get(5, 0)
    np.testing.assert_allclose(out, v, rtol=1e-6)


def test_function_constant_specialises_template(msl, fc_lib):
    x = np.arange(24, dtype=np.float32)
    (_, out) = msl.run(
        fc_lib, "fc_template_float", x, np.zeros(6, np.float32), grid=(6,), threadgroup=(6,)
    )
    np.testing.assert_array_equal(out, x.reshape(6, 4).sum(1))
    xi = np.arange(24, dtype=np.int32)
    (_, out) = msl.run(
        fc_lib,
        "fc_template_int",
        xi,
        np.zeros(3, np.int32),
        grid=(3,),
        threadgroup=(3,),
        constants={"block_n": 8},
    )
    np.testing.assert_array_equal(out, xi.reshape(3, 8).sum(1))


def test_template_instantiation_forms(msl, lang_lib):
    x = np.random.default_rng(1).standard_normal(32).astype(np.float32)
    (_, out) = msl.run(
        lang_lib, "reduce4_add_float", x, np.zeros(8, np.float32), grid=(8,), threadgroup=(8,)
    )
    np.testing.assert_allclose(out, x.reshape(8, 4).sum(1), rtol=1e-6)
    xi = np.random.default_rng(2).integers(-2000, 100, 32).astype(np.int32)
    (_, out) = msl.run(
        lang_lib, "reduce4_max_int", xi, np.zeros(8, np.int32), grid=(8,), threadgroup=(8,)
    )
    np.testing.assert_array_equal(out, np.maximum(xi.reshape(8, 4).max(1), -1000))


def test_macro_generated_kernels(msl, lang_lib):
    x = np.arange(6, dtype=np.float32)
    (_, out) = msl.run(
        lang_lib, "scale_f32", x, np.zeros(6, np.float32), grid=(6,), threadgroup=(6,)
    )
    np.testing.assert_array_equal(out, 3 * x)
    h = np.arange(6, dtype=np.float16)
    (_, out) = msl.run(
        lang_lib, "scale_f16", h, np.zeros(6, np.float16), grid=(6,), threadgroup=(6,)
    )
    np.testing.assert_array_equal(out, 2 * h)
    for name, dt in (("float32", np.float32), ("int32", np.int32), ("float16", np.float16)):
        a = np.arange(-3, 3).astype(dt)
        (_, out) = msl.run(
            lang_lib, f"square_{name}", a, np.zeros(6, dt), grid=(6,), threadgroup=(6,)
        )
        np.testing.assert_array_equal(out, a * a)
    names = set(lang_lib.function_names(msl.ctx))
    assert {"scale_f32", "square_float16", "reduce4_max_int", "namespaced", "odd_layout"} <= names


def test_structs_lambdas_constexpr(msl, lang_lib):
    x = np.arange(5, dtype=np.float32)
    (_, out) = msl.run(
        lang_lib, "structs_lambdas", x, np.zeros(5, np.float32), grid=(5,), threadgroup=(5,)
    )
    f2 = 2 * (2 * x + 1) + 1
    np.testing.assert_allclose(out, (f2 + x + 3) * 0.5 + 6 + 7 + 1.75 + 2)


def test_namespaces_layout_casts_version(msl, lang_lib):
    (out,) = msl.run(lang_lib, "namespaced", np.zeros(4, np.float32), grid=(4,), threadgroup=(4,))
    np.testing.assert_array_equal(out, np.arange(4) + 4)
    (out, _) = msl.run(
        lang_lib, "odd_layout", np.zeros(3, np.float32), None, grid=(3,), threadgroup=(3,)
    )
    np.testing.assert_array_equal(out, 1)
    raw = np.arange(28, dtype=np.float32)
    (_, out) = msl.run(
        lang_lib, "casts", raw.view(np.uint8), np.zeros(3, np.float32), grid=(3,), threadgroup=(3,)
    )
    v = raw[:16].reshape(4, 4)
    p = raw[16:].reshape(-1, 3)
    np.testing.assert_array_equal(out, v[:3, 0] + v[:3, 3] + p[:3, 2])
    (out,) = msl.run(lang_lib, "version", np.zeros(1, np.float32), grid=(1,), threadgroup=(1,))
    assert out[0] == 1


def test_template_argument_with_a_comparison(msl):
    """A non-type template argument in parentheses holding '>' (the instantiation's name must be
    found past it)."""
    lib = msl.library(
        "#include <metal_stdlib>\nusing namespace metal;\n"
        + """
template <bool Big>
kernel void pick(device int* out [[buffer(0)]], uint i [[thread_position_in_grid]]) {
  out[i] = Big ? 100 + int(i) : int(i);
}
template [[host_name("pick_big")]] [[kernel]] decltype(pick<(4 > 2)>) pick<(4 > 2)>;
template [[host_name("pick_small")]] [[kernel]] decltype(pick<(1 > 2)>) pick<(1 > 2)>;
""",
        name="angle_args",
    )
    (big,) = msl.run(lib, "pick_big", np.zeros(4, np.int32), grid=(4,), threadgroup=(4,))
    (small,) = msl.run(lib, "pick_small", np.zeros(4, np.int32), grid=(4,), threadgroup=(4,))
    np.testing.assert_array_equal(big, 100 + np.arange(4))
    np.testing.assert_array_equal(small, np.arange(4))


def test_parameters_without_attributes_get_the_first_free_index(msl):
    """llama.cpp style: `constant Args & args, device const char * src, ...` with no [[buffer]]:
    Metal assigns each the first unused index, in order (threadgroup pointers likewise)."""
    lib = msl.library(
        "#include <metal_stdlib>\nusing namespace metal;\n"
        + """
struct Args { int n; float scale; };
kernel void implicit_indices(
    constant Args & args,
    device const char * src,
    device const float * bias [[buffer(0)]],
    device char * dst,
    threadgroup float * shared,
    uint i [[thread_position_in_grid]],
    ushort tid [[thread_position_in_threadgroup]]) {
  // args -> buffer(1) (0 is taken), src -> 2, dst -> 3; shared -> threadgroup(0)
  shared[tid] = ((device const float *) src)[i] * args.scale + bias[0];
  threadgroup_barrier(mem_flags::mem_threadgroup);
  if (int(i) < args.n) ((device float *) dst)[i] = shared[tid];
}
""",
        name="implicit_indices",
    )
    x = np.arange(8, dtype=np.float32)
    args = np.array([(6, 2.0)], dtype=[("n", np.int32), ("scale", np.float32)])
    (_, _, _, out) = msl.run(
        lib,
        "implicit_indices",
        np.array([0.5], np.float32),
        args,
        x,
        np.zeros(8, np.float32),
        grid=(8,),
        threadgroup=(4,),
        threadgroup_memory={0: 16},
    )
    np.testing.assert_array_equal(out, np.where(np.arange(8) < 6, 2 * x + 0.5, 0))


def test_max_total_threads_attribute_limits_the_pipeline():
    lib = mt.compile_library(
        "#include <metal_stdlib>\nusing namespace metal;\n"
        "[[max_total_threads_per_threadgroup(64)]]\n"
        "kernel void small_groups(device float* y [[buffer(0)]],\n"
        "                         uint i [[thread_position_in_grid]]) { y[i] = 1.0; }\n",
        name="max_threads_attr",
    )
    fn = lib.function("small_groups")
    ctx = mt.Context(device="host")
    assert fn.pipeline(ctx).max_total_threads_per_threadgroup == 64
    y = ctx.zeros(128)
    fn(y, grid=(128,), threadgroup=(64,))
    np.testing.assert_array_equal(y.numpy(), np.ones(128, np.float32))
    with pytest.raises(mt.ArgumentError, match="limit of 64"):
        fn(y, grid=(128,), threadgroup=(128,))


def test_function_constant_index_from_a_macro(msl):
    """`[[function_constant(FC_BASE + 2)]]`, as llama.cpp writes them."""
    lib = msl.library(
        "#include <metal_stdlib>\nusing namespace metal;\n"
        + """
#define FC_BASE 400
constant int fc_scale [[function_constant(FC_BASE + 2)]];
kernel void fc_expr(device int* out [[buffer(0)]], uint i [[thread_position_in_grid]]) {
  out[i] = fc_scale * int(i);
}
""",
        name="fc_macro_index",
    )
    (out,) = msl.run(
        lib, "fc_expr", np.zeros(4, np.int32), grid=(4,), threadgroup=(4,), constants={402: 3}
    )
    np.testing.assert_array_equal(out, 3 * np.arange(4))
