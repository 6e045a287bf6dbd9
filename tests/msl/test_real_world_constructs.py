"""Constructs that real kernel libraries (candle, llama.cpp's ggml-metal, MLX) rely on, each in a
small kernel of our own: address spaces that tell overloads, constructors and specialisations
apart; what Metal's clang accepts and g++ does not; stdlib pieces; names the emulation must not
add; translator cases; Apple-internal names of the real headers; function-constant parameters.
(tools/check_real_world_msl.py runs the projects' own sources.)"""

from __future__ import annotations

import metallic as mt
import numpy as np
import pytest

ADDRESS_SPACES = r"""
#include <metal_stdlib>
using namespace metal;

// candle/MLX: the same helper for device and constant pointers (`constant const T*` has the
// const twice), overloads that differ only by address space.
template <typename T>
METAL_FUNC T load_sum(device const T* p, int n) { T s = 0; for (int i = 0; i < n; ++i) s += p[i]; return s; }
template <typename T>
METAL_FUNC T load_sum(constant const T* p, int n) { T s = 0; for (int i = 0; i < n; ++i) s += p[i]; return s; }
METAL_FUNC float first(thread const float* p) { return p[0]; }
METAL_FUNC float first(threadgroup const float* p) { return p[0]; }
METAL_FUNC float first(device const float* p) { return p[0]; }

// A program-scope table: `static const constant` (ggml-common.h, candle quantized.metal).
static const constant float kTable[4] = {1.0f, 10.0f, 100.0f, 1000.0f};

// Partial specialisations per address space (MLX steel/utils/type_traits.h).
template <typename T> struct pointee {};
template <typename T> struct pointee<thread T*> { using type = T; };
template <typename T> struct pointee<device T*> { using type = T; };
template <typename T> struct pointee<constant T*> { using type = T; };
template <typename T> struct pointee<threadgroup T*> { using type = T; };

// Constructors and members qualified by the address space of `this` (candle random.metal,
// reduce.metal; MLX complex.h, logging.h).
struct Acc {
  float v;
  Acc() thread = default;
  Acc() threadgroup = default;
  Acc() device = default;
  constexpr Acc(float x) thread : v(x) {}
  constexpr Acc(float x) threadgroup : v(x) {}
  float get() const thread { return v; }
  float get() const device { return v; }
  float get() const constant { return v; }
  float get() const threadgroup { return v; }
  void operator+=(float x) thread { v += x; }
  void operator+=(float x) device { v += x; }
  void operator+=(float x) threadgroup { v += x; }
};
template <typename T>
struct MD {
  T m;
  float d;
  constexpr MD<T>() = default;
  constexpr MD<T>() threadgroup = default;
};
// Different constructors, each once per address space (a defaulted template parameter's `=` is
// not the end of the declaration).
struct Conv {
  float v;
  template <typename U, typename = enable_if_t<is_arithmetic_v<U>>> Conv(U x) thread : v(float(x)) {}
  template <typename U, typename = enable_if_t<is_arithmetic_v<U>>> Conv(U x) threadgroup : v(float(x)) {}
  template <typename U> Conv(vec<U, 2> x) thread : v(float(x.x + x.y)) {}
  template <typename U> Conv(vec<U, 2> x) threadgroup : v(float(x.x + x.y)) {}
};

// A threadgroup reference parameter named like a threadgroup variable (candle reduce.metal).
METAL_FUNC float tg_product(threadgroup MD<float> &md) { return md.m * md.d; }
// A threadgroup variable passed to a template's reference parameter (a write, not a read).
template <typename T>
METAL_FUNC void set_d(threadgroup MD<T> &out, T v) { out.m = v; out.d = v; }

kernel void address_spaces(device const float* x [[buffer(0)]],
                           constant const float* c [[buffer(1)]],
                           device float* out [[buffer(2)]],
                           device Acc* acc [[buffer(3)]],
                           constant Acc& cacc [[buffer(4)]],
                           uint i [[thread_position_in_grid]],
                           uint l [[thread_position_in_threadgroup]]) {
  threadgroup float shared[4];
  threadgroup Acc tacc[4];
  threadgroup MD<float> md[4];
  threadgroup MD<float> md_one;  // a template type, no dimensions
  if (l == 0) set_d<float>(md_one, 0.25f);
  threadgroup_barrier(mem_flags::mem_threadgroup);
  shared[l] = x[i];
  tacc[l] = Acc(float(i));
  tacc[l] += 0.5f;
  md[l].m = float(i);
  md[l].d = 2.0f;
  thread float local[1] = {x[i] * 2.0f};
  Acc a(3.0f);
  a += 1.0f;
  acc[i] += x[i];
  typename pointee<device const float*>::type t = first(x + i);
  const device float* pv = &acc[i].v;  // the address of a member of an element (ggml)
  const constant auto* cc = c + 1;  // MLX steel_gemm_fused.h
  out[i] = load_sum(x, 4) + load_sum(c, 4) * kTable[i % 4] + first(local) + first(shared + l)
           + t + a.get() + acc[i].get() + cacc.get() + tacc[l].get() + md[l].m * md[l].d
           + Conv(3).v + Conv(float2(1.0f, 2.0f)).v + (*pv - acc[i].get())
           + (tg_product(md[l]) - md[l].m * md[l].d) + md_one.d + (cc[0] - c[1]);
}
"""


@pytest.mark.parametrize("checks", [False, True], ids=["unchecked", "checked"])
def test_address_spaces(msl, msl_checked, checks):
    """Also with host checks, where device/constant/threadgroup pointers are checked pointers
    (a thread pointer's overload or specialisation is then a different one)."""
    msl = msl_checked if checks else msl
    lib = msl.library(ADDRESS_SPACES, name="rw_address_spaces")
    x = np.arange(1, 9, dtype=np.float32)
    c = np.array([0.5, 0.25, 0.125, 0.0625], np.float32)
    acc = np.arange(8, dtype=np.float32) * 10
    (_, _, out, acc_out, _) = msl.run(
        lib,
        "address_spaces",
        x,
        c,
        np.zeros(8, np.float32),
        acc.copy(),
        np.float32(7),
        grid=(8,),
        threadgroup=(4,),
    )
    i = np.arange(8)
    table = np.array([1, 10, 100, 1000], np.float32)[i % 4]
    conv = 3 + (1 + 2) + 0.25  # Conv(3).v + Conv(float2(1, 2)).v + md_one.d
    expect = x[:4].sum() + c.sum() * table + 2 * x + x + x + 4 + (acc + x) + 7 + (i + 0.5) + 2 * i
    expect += conv
    np.testing.assert_allclose(out, expect, rtol=1e-6)
    np.testing.assert_array_equal(acc_out, acc + x)


def test_a_redefinition_without_address_spaces_is_still_an_error(msl):
    """Only declarations that differ by address space are merged: the user's own duplicate is
    reported by the compiler, naming the file and line."""
    source = msl.HEADER + "float twice(float x) { return x; }\nfloat twice(float x) { return x; }\n"
    with pytest.raises(mt.KernelCompileError, match="redefinition"):
        mt.compile_library(source, name="rw_redefinition").function_names()


CLANG_EXTENSIONS = r"""
#include <metal_stdlib>
using namespace metal;

// GNU range designators (ggml-metal.metal, candle quantized.metal).
constant short kSteps[8] = {[0 ... 3] = 1, [4 ... 7] = 3};

// An explicit specialisation in class scope (MLX binary_ops.h).
struct Op {
  template <typename T> T operator()(T x) { return x + T(1); }
  template <> float operator()(float x) { return x * 100.0f; }
};

kernel void clang_extensions(device const int* x [[buffer(0)]], device float* out [[buffer(1)]],
                             uint i [[thread_position_in_grid]]) {
  out[i] = float(Op()(x[i])) + Op()(float(kSteps[i]));
}
"""


def test_what_metal_clang_accepts(msl):
    x = np.arange(8, dtype=np.int32)
    (_, out) = msl.run(
        msl.library(CLANG_EXTENSIONS, name="rw_clang"),
        "clang_extensions",
        x,
        np.zeros(8, np.float32),
        grid=(8,),
        threadgroup=(8,),
    )
    steps = np.array([1, 1, 1, 1, 3, 3, 3, 3], np.float32)
    np.testing.assert_array_equal(out, x + 1 + steps * 100)


STDLIB = r"""
#include <metal_stdlib>
#include <metal_array>
using namespace metal;

kernel void stdlib_gaps(device const float* x [[buffer(0)]],
                        device const uint* bits [[buffer(1)]],
                        device float* out [[buffer(2)]],
                        device ushort* bf [[buffer(3)]],
                        uint i [[thread_position_in_grid]],
                        uint l [[thread_position_in_threadgroup]],
                        uint lane [[thread_index_in_simdgroup]]) {
  // make_filled_simdgroup_matrix<T, 8>: Rows defaults to Cols (ggml, candle).
  simdgroup_float8x8 m = make_filled_simdgroup_matrix<float, 8>(2.0f);
  threadgroup float tile[64];
  simdgroup_store(m, tile, 8);
  // select with an integer condition (ggml: select(1, -1, signs & mask)).
  const float sign = select(1, -1, bits[i] & 1u);
  metal::array<float, 3> arr = {1.0f, 2.0f, 3.0f};
  static_assert(is_convertible_v<int, float> && !is_convertible_v<float3, int>, "");
  static_assert(is_same_v<remove_addrspace_t<device float>, float>, "");
  // threadgroup memory with an initialiser (MLX layer_norm.metal), set once per threadgroup.
  threadgroup float zeros[32] = {0};
  threadgroup_barrier(mem_flags::mem_threadgroup);
  zeros[l] += 1.0f;  // each thread adds to its own element: 0 + 1
  threadgroup_barrier(mem_flags::mem_threadgroup);
#if defined(__HAVE_BFLOAT__)
  // A real bfloat: `c ? bfloat : 0` is a bfloat (ggml kernel_mul_mm).
  bfloat b = i % 2 ? bfloat(x[i]) : 0;
  bf[i] = as_type<ushort>(b);
#endif
  out[i] = tile[lane % 64] * sign + arr[i % 3] + float(arr.size()) + zeros[l];
}
"""


def test_stdlib_pieces(msl):
    x = np.linspace(-2, 5, 32).astype(np.float32)
    bits = np.arange(32, dtype=np.uint32)
    (_, _, out, bf) = msl.run(
        msl.library(STDLIB, name="rw_stdlib"),
        "stdlib_gaps",
        x,
        bits,
        np.zeros(32, np.float32),
        np.zeros(32, np.uint16),
        grid=(32,),
        threadgroup=(32,),
    )
    i = np.arange(32)
    sign = np.where(i % 2 == 1, -1, 1)
    np.testing.assert_array_equal(out, 2 * sign + (i % 3 + 1) + 3 + 1)
    expect_bf = np.where(i % 2 == 1, msl.bf16_bits(x), 0)
    np.testing.assert_array_equal(bf, expect_bf)


NAMES = r"""
#include <metal_stdlib>
using namespace metal;

// Names that are not MSL's must be free for the kernel's own use.
template <typename T> METAL_FUNC T recip(T x) { return T(1) / x; }  // candle unary.metal
METAL_FUNC float log1p(float x) { return x + 1000.0f; }  // not MSL; the C library's is hidden
constant int index = 3;  // <strings.h> has an index(), <stdio.h> a remove(): neither is MSL
constant float remove = 0.5f;
namespace metal {
template <typename T> struct is_empty : bool_constant<__is_empty(T)> {};  // MLX type_traits.h
template <typename... Ts> struct make_void { typedef void type; };
template <typename... Ts> using void_t = typename make_void<Ts...>::type;
namespace fast {
METAL_FUNC bfloat exp(bfloat x) { return bfloat(100.0f); }  // MLX bf16_math.h adds overloads
}
}
struct Empty {};

kernel void names(device const float* x [[buffer(0)]], device float* out [[buffer(1)]],
                  uint i [[thread_position_in_grid]]) {
  static_assert(metal::is_empty<Empty>::value && is_same_v<void_t<int>, void>, "");
  // fast::exp(float) still finds metal's beside the added bfloat overload.
  out[i] = recip(x[i]) + log1p(half(x[i])) + fast::exp(x[i]) + float(fast::exp(bfloat(1.0f))) +
           float(index) * remove;
}
"""


def test_only_msl_names_are_visible(msl):
    x = np.array([1, 2, 4, 0.5], np.float32)
    (_, out) = msl.run(
        msl.library(NAMES, name="rw_names"),
        "names",
        x,
        np.zeros(4, np.float32),
        grid=(4,),
        threadgroup=(4,),
    )
    np.testing.assert_allclose(out, 1 / x + x + 1000 + np.exp(x) + 100 + 1.5, rtol=1e-6)


TRANSLATOR = r"""
#include <metal_stdlib>
using namespace metal;
#define MIN(a, b) ((a) < (b) ? (a) : (b))

constant bool has_mask [[function_constant(0)]];
constant int blocks [[function_constant(1)]];

METAL_FUNC int fc_blocks() { return blocks; }  // here `blocks` is the function constant

// Array parameters without attributes take the next free buffer index (MLX binary.h).
// A parameter with only [[function_constant(c)]] too (candle sdpa).
kernel void translator_cases(device const float* x,
                             device float* out,
                             constant const int64_t strides[2],
                             device const float* mask [[function_constant(has_mask)]],
                             constant int& unused_blocks [[function_constant(has_mask)]],
                             uint i [[thread_position_in_grid]]) {
  // A local name that is also a function constant's (MLX sdpa_vector): the local one.
  const int blocks = int(strides[1]);
  float acc = 0.0f;
#pragma unroll(MIN(4, 8))
  for (int k = 0; k < 4; ++k) acc += x[i] * float(k);
  out[i] = acc + float(blocks * strides[0]) + (has_mask ? mask[i] : 0.0f) + float(fc_blocks());
}
"""


@pytest.mark.parametrize("has_mask", [False, True])
def test_translator_cases(msl, has_mask):
    x = np.arange(6, dtype=np.float32)
    mask = np.full(6, 0.25, np.float32)
    (_, out, *_) = msl.run(
        msl.library(TRANSLATOR, name="rw_translator"),
        "translator_cases",
        x,
        np.zeros(6, np.float32),
        np.array([3, 5], np.int64),
        mask if has_mask else None,
        np.int32(0) if has_mask else None,
        grid=(6,),
        threadgroup=(6,),
        constants={"has_mask": has_mask, "blocks": 1000},
    )
    np.testing.assert_array_equal(out, 6 * x + 15 + (0.25 if has_mask else 0) + 1000)


INTERNAL = r"""
#include <metal_stdlib>
using namespace metal;

template <typename T> struct indexed { uint i; T val; };
// candle reduce.metal: numeric_limits of its own type through the internal base.
template <typename T>
struct _numeric_limits_impl<indexed<T>> {
  static constexpr METAL_FUNC indexed<T> lowest() { return indexed<T>{0, numeric_limits<T>::lowest()}; }
};
// MLX atomic.h, candle reduce.metal.
#pragma METAL internals : enable
template <typename T>
constexpr constant bool is_small = _disjunction<is_same<T, short>, is_same<T, char>>::value;
#pragma METAL internals : disable
static_assert(__is_valid_simdgroup_type<float4>::value && !__is_valid_simdgroup_type<indexed<float>>::value, "");
static_assert(is_small<short> && !is_small<int>, "");

kernel void internal_names(device const float* x [[buffer(0)]], device float* out [[buffer(1)]],
                           uint i [[thread_position_in_grid]]) {
  // MLX bf16_math.h: the builtins behind metal's math.
  const float a = __metal_fabs(x[i], __METAL_MAYBE_FAST_MATH__) + __metal_fmax(x[i], 0.0f, __METAL_FAST_MATH__);
  // candle sdpa: NaN test through the encoding traits.
  const bool nan = (as_type<uint>(x[i]) & ~_fp_encoding_traits<float>::sign_mask) > _fp_encoding_traits<float>::inf_mask;
  const float lanes = __metal_simd_sum(1.0f);
  out[i] = nan ? -1.0f : a + numeric_limits<indexed<float>>::lowest().val * 0.0f + lanes;
}
"""


def test_internal_names_of_the_real_headers(msl):
    x = np.array([-2, 3, np.nan, 0.5], np.float32)
    (_, out) = msl.run(
        msl.library(INTERNAL, name="rw_internal"),
        "internal_names",
        x,
        np.zeros(4, np.float32),
        grid=(4,),
        threadgroup=(4,),
    )
    np.testing.assert_array_equal(out, [2 + 0 + 4, 3 + 3 + 4, -1, 0.5 + 0.5 + 4])


GUARDED = r"""
#include <metal_stdlib>
using namespace metal;
struct AddParams { float alpha; float beta; };
constant bool use_c [[function_constant(0)]];

// MLX steel_gemm_fused.h: reads `params->alpha` whether or not use_c is set; Metal removes the
// parameter (and that dead read) when the constant is false.
kernel void guarded(device const float* a [[buffer(0)]],
                    device const float* c [[buffer(1), function_constant(use_c)]],
                    device float* d [[buffer(2)]],
                    const constant AddParams* params [[buffer(3), function_constant(use_c)]],
                    uint i [[thread_position_in_grid]]) {
  const float alpha = params->alpha, beta = params->beta;
  d[i] = use_c ? alpha * a[i] + beta * c[i] : a[i];
}
"""


@pytest.mark.parametrize("checks", [False, True], ids=["unchecked", "checked"])
@pytest.mark.parametrize("use_c", [False, True])
def test_function_constant_parameters(msl, msl_checked, use_c, checks):
    """Checked too: there the dead read is a checked access, which the C++ compiler cannot
    move into the branch that uses it (unchecked, it may, and an unbound read goes unseen)."""
    msl = msl_checked if checks else msl
    a = np.arange(5, dtype=np.float32)
    c = np.full(5, 10, np.float32)
    params = np.array([2.0, 3.0], np.float32)
    (_, _, d, _) = msl.run(
        msl.library(GUARDED, name="rw_guarded"),
        "guarded",
        a,
        c if use_c else None,
        np.zeros(5, np.float32),
        params if use_c else None,
        grid=(5,),
        threadgroup=(5,),
        constants={"use_c": use_c},
    )
    np.testing.assert_array_equal(d, 2 * a + 30 if use_c else a)


WIDE_BYTES = r"""
#include <metal_stdlib>
using namespace metal;
// candle reduce.metal's softmax takes `constant uint&` sizes; its host code binds usize values.
kernel void count(constant uint& n [[buffer(0)]], device float* out [[buffer(1)]],
                  uint i [[thread_position_in_grid]]) {
  out[i] = i < n ? 1.0f : 0.0f;
}
"""


def test_a_usize_binds_to_a_uint_reference(msl):
    """Metal accepts inline bytes longer than the parameter and reads the leading ones."""
    (_, out) = msl.run(
        msl.library(WIDE_BYTES, name="rw_wide_bytes"),
        "count",
        np.uint64(3),
        np.zeros(5, np.float32),
        grid=(5,),
        threadgroup=(5,),
    )
    np.testing.assert_array_equal(out, [1, 1, 1, 0, 0])


# Kernels named like metal_stdlib functions and types (issue 7, section 3).
STDLIB_NAMES = ["transpose", "max", "min", "abs", "exp", "sqrt", "dot", "select", "fma", "clamp",
                "float4", "half"]  # fmt: skip
KERNEL_NAMES = "#include <metal_stdlib>\nusing namespace metal;\n" + "".join(
    f"kernel void {n}(device const float* x [[buffer(0)]], device float* y [[buffer(1)]],\n"
    f"  uint i [[thread_position_in_grid]]) {{ y[i] = max(x[i], 0.0f) + {k}.0f; }}\n"
    for k, n in enumerate(STDLIB_NAMES)
)


@pytest.mark.parametrize("index", range(len(STDLIB_NAMES)), ids=STDLIB_NAMES)
def test_kernels_named_like_stdlib_names(msl, index):
    lib = msl.library(KERNEL_NAMES, name="rw_kernel_names")
    assert sorted(lib.function_names(msl.ctx)) == sorted(STDLIB_NAMES)
    x = np.array([-1, 2, -3, 4], np.float32)
    (_, y) = msl.run(
        lib, STDLIB_NAMES[index], x, np.zeros(4, np.float32), grid=(4,), threadgroup=(4,)
    )
    np.testing.assert_array_equal(y, np.maximum(x, 0) + index)
