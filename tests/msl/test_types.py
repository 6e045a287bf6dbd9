"""Scalars, vectors (layout, constructors, swizzles, operators), conversions, as_type, select,
all/any, small matrices."""

from __future__ import annotations

import numpy as np
import pytest

SOURCE = r"""
#include <metal_stdlib>
using namespace metal;

// ---- scalars: one template kernel per element type ------------------------------------------
template <typename T>
kernel void scalar_arith(device const T* a [[buffer(0)]], device const T* b [[buffer(1)]],
                         device T* out [[buffer(2)]], uint i [[thread_position_in_grid]]) {
  T x = a[i], y = b[i];
  out[4 * i + 0] = x + y;
  out[4 * i + 1] = x - y;
  out[4 * i + 2] = x * y;
  out[4 * i + 3] = x / y;
}
template [[host_name("scalar_arith_char")]] kernel void scalar_arith<char>(
    device const char*, device const char*, device char*, uint);
template [[host_name("scalar_arith_uchar")]] kernel void scalar_arith<uchar>(
    device const uchar*, device const uchar*, device uchar*, uint);
template [[host_name("scalar_arith_short")]] kernel void scalar_arith<short>(
    device const short*, device const short*, device short*, uint);
template [[host_name("scalar_arith_ushort")]] kernel void scalar_arith<ushort>(
    device const ushort*, device const ushort*, device ushort*, uint);
template [[host_name("scalar_arith_int")]] kernel void scalar_arith<int>(
    device const int*, device const int*, device int*, uint);
template [[host_name("scalar_arith_uint")]] kernel void scalar_arith<uint>(
    device const uint*, device const uint*, device uint*, uint);
template [[host_name("scalar_arith_long")]] kernel void scalar_arith<long>(
    device const long*, device const long*, device long*, uint);
template [[host_name("scalar_arith_ulong")]] kernel void scalar_arith<ulong>(
    device const ulong*, device const ulong*, device ulong*, uint);
// size_t is ulong (64-bit) as on the GPU: the same type, so no second instantiation.
kernel void size_t_ops(device const size_t* a [[buffer(0)]], device size_t* out [[buffer(1)]],
                       uint i [[thread_position_in_grid]]) {
  static_assert(sizeof(size_t) == 8, "size_t is 64-bit");
  size_t n = a[i];
  out[i] = n * size_t(3) + sizeof(float4);
}
template [[host_name("scalar_arith_half")]] kernel void scalar_arith<half>(
    device const half*, device const half*, device half*, uint);
template [[host_name("scalar_arith_float")]] kernel void scalar_arith<float>(
    device const float*, device const float*, device float*, uint);
template [[host_name("scalar_arith_bfloat")]] kernel void scalar_arith<bfloat>(
    device const bfloat*, device const bfloat*, device bfloat*, uint);

template <typename T>
kernel void int_ops(device const T* a [[buffer(0)]], device const T* b [[buffer(1)]],
                    device T* out [[buffer(2)]], uint i [[thread_position_in_grid]]) {
  T x = a[i], y = b[i];
  out[6 * i + 0] = x % y;
  out[6 * i + 1] = x & y;
  out[6 * i + 2] = x | y;
  out[6 * i + 3] = x ^ y;
  out[6 * i + 4] = ~x;
  out[6 * i + 5] = T(x >> 2);
}
template [[host_name("int_ops_int")]] kernel void int_ops<int>(
    device const int*, device const int*, device int*, uint);
template [[host_name("int_ops_uchar")]] kernel void int_ops<uchar>(
    device const uchar*, device const uchar*, device uchar*, uint);
template [[host_name("int_ops_short")]] kernel void int_ops<short>(
    device const short*, device const short*, device short*, uint);
template [[host_name("int_ops_ulong")]] kernel void int_ops<ulong>(
    device const ulong*, device const ulong*, device ulong*, uint);

kernel void bool_ops(device const uchar* a [[buffer(0)]], device uchar* out [[buffer(1)]],
                     uint i [[thread_position_in_grid]]) {
  bool p = a[i] != 0, q = (i & 1) != 0;
  bool r = (p && !q) || (q && !p);
  out[i] = uchar(r) + uchar(sizeof(bool) == 1 ? 2 : 0);
}

// ---- vectors ----------------------------------------------------------------------------------
template <typename T, int N>
kernel void vec_arith(device const vec<T, N>* a [[buffer(0)]],
                      device const vec<T, N>* b [[buffer(1)]], device vec<T, N>* out [[buffer(2)]],
                      uint i [[thread_position_in_grid]]) {
  vec<T, N> x = a[i], y = b[i];
  vec<T, N> s = x + y * T(2);          // scalar broadcast
  s -= T(1);
  s = s * x - y;
  s = select(s, x, x > y);             // component-wise comparison and select
  out[i] = s;
}
#define VEC_ARITH(T, N)                                                                      \
  template [[host_name("vec_arith_" #T #N)]] kernel void vec_arith<T, N>(                    \
      device const vec<T, N>*, device const vec<T, N>*, device vec<T, N>*, uint);
VEC_ARITH(float, 2) VEC_ARITH(float, 3) VEC_ARITH(float, 4)
VEC_ARITH(half, 2) VEC_ARITH(half, 3) VEC_ARITH(half, 4)
VEC_ARITH(int, 2) VEC_ARITH(int, 3) VEC_ARITH(int, 4)
VEC_ARITH(uint, 3) VEC_ARITH(short, 4) VEC_ARITH(ushort, 2)
VEC_ARITH(char, 3) VEC_ARITH(uchar, 4) VEC_ARITH(long, 2) VEC_ARITH(ulong, 3)

// Layout: float3 is 16 bytes (aligned), packed_float3 12.
kernel void layout(device const float3* a [[buffer(0)]], device packed_float3* p [[buffer(1)]],
                   device uint* sizes [[buffer(2)]], uint i [[thread_position_in_grid]]) {
  p[i] = packed_float3(a[i].zyx);
  float3 back = float3(p[i]);
  p[i].x += back.y * 0.0f;
  if (i == 0) {
    sizes[0] = sizeof(float3);
    sizes[1] = sizeof(packed_float3);
    sizes[2] = alignof(float3);
    sizes[3] = sizeof(half3);
    sizes[4] = sizeof(packed_half3);
    sizes[5] = sizeof(float2);
    sizes[6] = sizeof(int4);
    sizes[7] = sizeof(packed_char3);
    sizes[8] = sizeof(uchar3);
    sizes[9] = sizeof(float2x2);
    sizes[10] = sizeof(float3x3);
  }
}

// Constructors: broadcast, concatenation, conversion, initializer lists.
kernel void constructors(device float4* out [[buffer(0)]], device int4* iout [[buffer(1)]]) {
  float2 a = float2(1.0f, 2.0f);
  float3 b = float3(a, 3.0f);
  out[0] = float4(b, 4.0f);
  out[1] = float4(0.5f);
  out[2] = float4(a, a.yx);
  out[3] = float4(5.0f, a, 6.0f);
  float4 c = {7.0f, 8.0f, 9.0f, 10.0f};
  out[4] = c;
  out[5] = float4(int4(-1, 2, -3, 4));
  vec<float, 4> d(1.5f, 2.5f, 3.5f, 4.5f);
  out[6] = d;
  out[7] = float4(half4(1.0h, 2.5h, -3.0h, 0.25h));
  iout[0] = int4(float4(1.7f, -1.7f, 2.5f, -0.2f));  // truncation toward zero
  iout[1] = int4(uint4(0xFFFFFFFFu, 1u, 2u, 3u));
  iout[2] = int4(char4(-1, 2, -3, 127));
  iout[3] = int4(int2(1, 2), int2(3, 4));
  float4 z{};
  iout[4] = int4(z);
  iout[5] = int4(bool4(true, false, true, true));
}

// Swizzles: read, write, compound assignment, repeated components, .rgba.
kernel void swizzles(device float4* out [[buffer(0)]]) {
  float4 v = float4(1.0f, 2.0f, 3.0f, 4.0f);
  out[0] = v.wzyx;
  out[1] = float4(v.xx, v.yy);
  out[2] = float4(v.zyx, v.w);
  float4 w = v;
  w.xy = float2(10.0f, 20.0f);
  w.zw = w.yx;
  out[3] = w;
  float4 c = v;
  c.rgb = c.bgr;
  c.a = c.r + c.g;
  out[4] = c;
  float4 d = v;
  d.xz += 100.0f;
  d.yw *= float2(2.0f, 3.0f);
  out[5] = d;
  float3 e = v.xyz;
  e.yz = e.zy;
  out[6] = float4(e.x, e.y, e.z, v.xyzw.w);
  float2 f = v.ba;
  out[7] = float4(f, v[1], v[2]);
}

// Component-wise comparison and logic, all/any, select with vectors and scalars.
kernel void logic(device const int4* a [[buffer(0)]], device const int4* b [[buffer(1)]],
                  device int* out [[buffer(2)]], uint i [[thread_position_in_grid]]) {
  int4 x = a[i], y = b[i];
  bool4 lt = x < y, eq = x == y;
  bool4 either = lt || eq;
  bool4 both = lt && !eq;
  out[8 * i + 0] = all(either);
  out[8 * i + 1] = any(both);
  out[8 * i + 2] = all(x != y);
  out[8 * i + 3] = any(x >= 3);
  int4 s = select(x, y, lt);
  out[8 * i + 4] = s.x + 10 * s.y + 100 * s.z + 1000 * s.w;
  out[8 * i + 5] = select(-1, 1, x.x > y.x);
  int4 m = select(int4(0), int4(1), x == 2);
  out[8 * i + 6] = m.x + m.y + m.z + m.w;
  out[8 * i + 7] = int(!any(x > 100));
}

// Conversions and as_type.
kernel void conversions(device const float* f [[buffer(0)]], device int* iout [[buffer(1)]],
                        device uint* bits [[buffer(2)]], device half* hout [[buffer(3)]],
                        device float* fout [[buffer(4)]], uint i [[thread_position_in_grid]]) {
  float x = f[i];
  iout[2 * i] = int(x);
  iout[2 * i + 1] = static_cast<int>(uchar(int(x) & 0xff));
  bits[2 * i] = as_type<uint>(x);
  half h = half(x);
  bits[2 * i + 1] = as_type<ushort>(h);
  hout[i] = h;
  half2 hh = as_type<half2>(as_type<uint>(half2(h, -h)));
  fout[2 * i] = float(hh.y);
  fout[2 * i + 1] = as_type<float>(as_type<uint>(x) ^ 0x80000000u);
}

kernel void bfloat_ops(device const bfloat* a [[buffer(0)]], device const bfloat* b [[buffer(1)]],
                       device bfloat* out [[buffer(2)]], device float* fout [[buffer(3)]],
                       uint i [[thread_position_in_grid]]) {
  bfloat x = a[i], y = b[i];
  out[2 * i] = x * y + x;
  bfloat2 v = bfloat2(x, y);
  v = v + v;
  out[2 * i + 1] = v.y;
  fout[i] = float(x);
}

// Small matrices (column-major): construct, multiply matrix*vector, matrix*matrix, transpose.
kernel void matrices(device const float* m [[buffer(0)]], device float* out [[buffer(1)]]) {
  float3x3 a = float3x3(float3(m[0], m[1], m[2]), float3(m[3], m[4], m[5]),
                        float3(m[6], m[7], m[8]));
  float3 v = float3(1.0f, 2.0f, 3.0f);
  float3 av = a * v;
  float3x3 aa = a * transpose(a);
  float2x2 id = float2x2(1.0f);
  float2x2 two = float2x2(1.0f, 2.0f, 3.0f, 4.0f) * id;
  for (int c = 0; c < 3; ++c) out[c] = av[c];
  for (int c = 0; c < 3; ++c)
    for (int r = 0; r < 3; ++r) out[3 + c * 3 + r] = aa[c][r];
  out[12] = two[1][0];
  out[13] = two[0][1];
  float4x4 four = float4x4(2.0f);
  out[14] = (four * float4(1.0f, 2.0f, 3.0f, 4.0f)).w;
  half2x2 h = half2x2(half2(1.0h, 2.0h), half2(3.0h, 4.0h));
  out[15] = float((h * half2(1.0h, 1.0h)).y);
}
"""

INT_TYPES = {
    "char": np.int8,
    "uchar": np.uint8,
    "short": np.int16,
    "ushort": np.uint16,
    "int": np.int32,
    "uint": np.uint32,
    "long": np.int64,
    "ulong": np.uint64,
}


@pytest.fixture(scope="module")
def lib(msl):
    return msl.library(SOURCE, name="types")


def _c_div(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """C integer division (truncating toward zero) in x's dtype, wrapping."""
    q = [
        abs(int(p)) // abs(int(r)) * (1 if (p < 0) == (r < 0) else -1)
        for p, r in zip(x, y, strict=True)
    ]
    bits = x.dtype.itemsize * 8
    return (
        np.array([v % (1 << bits) for v in q], np.uint64)
        .astype(np.dtype(f"u{x.dtype.itemsize}"))
        .view(x.dtype)
    )


@pytest.mark.parametrize("tname", list(INT_TYPES))
def test_integer_scalar_arithmetic_wraps(msl, lib, tname):
    dt = np.dtype(INT_TYPES[tname])
    rng = np.random.default_rng(1)
    info = np.iinfo(dt)
    n = 37
    a = rng.integers(info.min, info.max, n, dtype=dt, endpoint=True)
    b = rng.integers(1, min(int(info.max), 1000), n, dtype=dt)
    if info.min < 0:
        b = b * rng.choice(np.array([-1, 1], dt), n)
    a[0], b[0] = info.max, 1  # overflow wraps
    out = np.zeros(4 * n, dt)
    (_, _, out) = msl.run(lib, f"scalar_arith_{tname}", a, b, out, grid=(n,), threadgroup=(8,))
    with np.errstate(over="ignore"):
        expect = np.stack([a + b, a - b, a * b, _c_div(a, b)], axis=1).ravel()
    np.testing.assert_array_equal(out, expect)


def test_size_t(msl, lib):
    a = np.array([0, 1, 2**40, 2**63 + 5], np.uint64)
    (_, out) = msl.run(lib, "size_t_ops", a, np.zeros(4, np.uint64), grid=(4,), threadgroup=(4,))
    with np.errstate(over="ignore"):
        np.testing.assert_array_equal(out, a * np.uint64(3) + np.uint64(16))


def test_half_scalar_arithmetic_rounds_each_op(msl, lib):
    rng = np.random.default_rng(2)
    a = rng.standard_normal(64).astype(np.float16) * np.float16(30)
    b = rng.standard_normal(64).astype(np.float16) + np.float16(4)
    out = np.zeros(4 * 64, np.float16)
    (_, _, out) = msl.run(lib, "scalar_arith_half", a, b, out, grid=(64,), threadgroup=(32,))
    expect = np.stack([a + b, a - b, a * b, a / b], axis=1).ravel()
    np.testing.assert_array_equal(out, expect)


def test_float_scalar_arithmetic(msl, lib):
    rng = np.random.default_rng(3)
    a = rng.standard_normal(50).astype(np.float32)
    b = rng.standard_normal(50).astype(np.float32) + 3
    out = np.zeros(200, np.float32)
    (_, _, out) = msl.run(lib, "scalar_arith_float", a, b, out, grid=(50,), threadgroup=(16,))
    expect = np.stack([a + b, a - b, a * b, a / b], axis=1).ravel()
    np.testing.assert_allclose(out, expect, rtol=1e-6)


def test_bfloat_scalar_arithmetic(msl, lib):
    rng = np.random.default_rng(4)
    af = msl.bf16_value(msl.bf16_bits(rng.standard_normal(40).astype(np.float32) * 10))
    bf = msl.bf16_value(msl.bf16_bits(rng.standard_normal(40).astype(np.float32) + 3))
    out = np.zeros(160, np.uint16)
    (_, _, out) = msl.run(
        lib,
        "scalar_arith_bfloat",
        msl.bf16_bits(af),
        msl.bf16_bits(bf),
        out,
        grid=(40,),
        threadgroup=(8,),
    )
    expect = msl.bf16_bits(np.stack([af + bf, af - bf, af * bf, af / bf], axis=1).ravel())
    np.testing.assert_array_equal(out, expect)


@pytest.mark.parametrize("tname", ["int", "uchar", "short", "ulong"])
def test_integer_bit_ops(msl, lib, tname):
    dt = np.dtype(INT_TYPES[tname])
    info = np.iinfo(dt)
    rng = np.random.default_rng(5)
    a = rng.integers(info.min, info.max, 33, dtype=dt, endpoint=True)
    b = rng.integers(1, 100, 33, dtype=dt)
    out = np.zeros(6 * 33, dt)
    (_, _, out) = msl.run(lib, f"int_ops_{tname}", a, b, out, grid=(33,), threadgroup=(32,))
    rem = np.fmod(a, b) if info.min < 0 else a % b
    expect = np.stack([rem, a & b, a | b, a ^ b, ~a, a >> 2], axis=1).ravel()
    np.testing.assert_array_equal(out, expect)


def test_bool(msl, lib):
    a = np.array([0, 1, 0, 1, 5], np.uint8)
    (_, out) = msl.run(lib, "bool_ops", a, np.zeros(5, np.uint8), grid=(5,), threadgroup=(5,))
    q = (np.arange(5) & 1) != 0
    np.testing.assert_array_equal(out, ((a != 0) ^ q).astype(np.uint8) + 2)


VEC_CASES = [
    ("float", 2, np.float32),
    ("float", 3, np.float32),
    ("float", 4, np.float32),
    ("half", 2, np.float16),
    ("half", 3, np.float16),
    ("half", 4, np.float16),
    ("int", 2, np.int32),
    ("int", 3, np.int32),
    ("int", 4, np.int32),
    ("uint", 3, np.uint32),
    ("short", 4, np.int16),
    ("ushort", 2, np.uint16),
    ("char", 3, np.int8),
    ("uchar", 4, np.uint8),
    ("long", 2, np.int64),
    ("ulong", 3, np.uint64),
]


@pytest.mark.parametrize("tname,n,dt", VEC_CASES, ids=[f"{t}{n}" for t, n, _ in VEC_CASES])
def test_vector_arithmetic_and_layout(msl, lib, tname, n, dt):
    """vec<T,N> in buffers: 3-vectors occupy 4 slots (GPU alignment)."""
    count = 19
    slots = 4 if n == 3 else n
    rng = np.random.default_rng(6)
    if np.issubdtype(dt, np.floating):
        a = rng.standard_normal((count, slots)).astype(dt)
        b = rng.standard_normal((count, slots)).astype(dt)
    else:
        a = rng.integers(0, 50, (count, slots)).astype(dt)
        b = rng.integers(0, 50, (count, slots)).astype(dt)
    out = np.zeros((count, slots), dt)
    (_, _, out) = msl.run(lib, f"vec_arith_{tname}{n}", a, b, out, grid=(count,), threadgroup=(4,))
    x, y = a[:, :n], b[:, :n]
    with np.errstate(over="ignore"):
        two, one = dt(2), dt(1)
        s = ((x + y * two) - one) * x - y
        expect = np.where(x > y, x, s)
    if dt == np.float32:
        np.testing.assert_allclose(out[:, :n], expect, rtol=1e-6, atol=1e-6)
    else:
        np.testing.assert_array_equal(out[:, :n], expect)


def test_packed_and_aligned_layout(msl, lib):
    a = np.arange(5 * 4, dtype=np.float32).reshape(5, 4)
    p = np.zeros((5, 3), np.float32)
    sizes = np.zeros(11, np.uint32)
    (_, p, sizes) = msl.run(lib, "layout", a, p, sizes, grid=(5,), threadgroup=(5,))
    np.testing.assert_array_equal(p, a[:, 2::-1])
    np.testing.assert_array_equal(sizes, [16, 12, 16, 8, 6, 8, 16, 3, 4, 16, 48])


def test_constructors(msl, lib):
    out = np.zeros((8, 4), np.float32)
    iout = np.zeros((6, 4), np.int32)
    (out, iout) = msl.run(lib, "constructors", out, iout, grid=(1,), threadgroup=(1,))
    np.testing.assert_array_equal(
        out,
        [
            [1, 2, 3, 4],
            [0.5] * 4,
            [1, 2, 2, 1],
            [5, 1, 2, 6],
            [7, 8, 9, 10],
            [-1, 2, -3, 4],
            [1.5, 2.5, 3.5, 4.5],
            [1, 2.5, -3, 0.25],
        ],
    )
    np.testing.assert_array_equal(
        iout, [[1, -1, 2, 0], [-1, 1, 2, 3], [-1, 2, -3, 127], [1, 2, 3, 4], [0] * 4, [1, 0, 1, 1]]
    )


def test_swizzles(msl, lib):
    (out,) = msl.run(lib, "swizzles", np.zeros((8, 4), np.float32), grid=(1,), threadgroup=(1,))
    np.testing.assert_array_equal(
        out,
        [
            [4, 3, 2, 1],
            [1, 1, 2, 2],
            [3, 2, 1, 4],
            [10, 20, 20, 10],
            [3, 2, 1, 5],
            [101, 4, 103, 12],
            [1, 3, 2, 4],
            [3, 4, 2, 3],
        ],
    )


def test_comparison_logic_select(msl, lib):
    rng = np.random.default_rng(7)
    a = rng.integers(0, 5, (30, 4)).astype(np.int32)
    b = rng.integers(0, 5, (30, 4)).astype(np.int32)
    (_, _, out) = msl.run(lib, "logic", a, b, np.zeros(240, np.int32), grid=(30,), threadgroup=(7,))
    out = out.reshape(30, 8)
    lt, eq = a < b, a == b
    s = np.where(lt, b, a)
    expect = np.stack(
        [
            (lt | eq).all(1),
            (lt & ~eq).any(1),
            (a != b).all(1),
            (a >= 3).any(1),
            s @ np.array([1, 10, 100, 1000]),
            np.where(a[:, 0] > b[:, 0], 1, -1),
            (a == 2).sum(1),
            ~(a > 100).any(1),
        ],
        axis=1,
    ).astype(np.int32)
    np.testing.assert_array_equal(out, expect)


def test_conversions_and_as_type(msl, lib):
    f = np.array([1.5, -2.7, 300.25, 65504.0, -0.0, 1e-3, 7.0e4, 0.1], np.float32)
    n = len(f)
    (_, iout, bits, hout, fout) = msl.run(
        lib,
        "conversions",
        f,
        np.zeros(2 * n, np.int32),
        np.zeros(2 * n, np.uint32),
        np.zeros(n, np.float16),
        np.zeros(2 * n, np.float32),
        grid=(n,),
        threadgroup=(n,),
    )
    np.testing.assert_array_equal(iout[0::2], np.trunc(f).astype(np.int32))
    np.testing.assert_array_equal(iout[1::2], np.trunc(f).astype(np.int32) & 0xFF)
    np.testing.assert_array_equal(bits[0::2], f.view(np.uint32))
    with np.errstate(over="ignore"):
        h = f.astype(np.float16)
    np.testing.assert_array_equal(bits[1::2], h.view(np.uint16))
    np.testing.assert_array_equal(hout, h)
    np.testing.assert_array_equal(fout[0::2], -h.astype(np.float32))
    np.testing.assert_array_equal(fout[1::2], -f)


def test_bfloat(msl, lib):
    rng = np.random.default_rng(8)
    a = msl.bf16_bits(rng.standard_normal(16).astype(np.float32) * 4)
    b = msl.bf16_bits(rng.standard_normal(16).astype(np.float32))
    (_, _, out, fout) = msl.run(
        lib,
        "bfloat_ops",
        a,
        b,
        np.zeros(32, np.uint16),
        np.zeros(16, np.float32),
        grid=(16,),
        threadgroup=(16,),
    )
    af, bf = msl.bf16_value(a), msl.bf16_value(b)
    prod = msl.bf16_value(msl.bf16_bits(af * bf))
    np.testing.assert_array_equal(out[0::2], msl.bf16_bits(prod + af))
    np.testing.assert_array_equal(out[1::2], msl.bf16_bits(bf + bf))
    np.testing.assert_array_equal(fout, af)


def test_matrices(msl, lib):
    m = np.arange(1, 10, dtype=np.float32)
    (_, out) = msl.run(lib, "matrices", m, np.zeros(16, np.float32), grid=(1,), threadgroup=(1,))
    a = m.reshape(3, 3).T  # columns
    np.testing.assert_allclose(out[:3], a @ np.array([1, 2, 3], np.float32))
    np.testing.assert_allclose(out[3:12], (a @ a.T).T.ravel())
    assert out[12] == 3 and out[13] == 2
    assert out[14] == 8
    assert out[15] == 6
