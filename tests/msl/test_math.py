"""metal:: math, precise:: and fast:: on float/half scalars and vectors vs numpy; integer
functions; numeric_limits and MSL constants."""

from __future__ import annotations

import numpy as np
import pytest

FUNCS1 = {
    "exp": np.exp,
    "exp2": np.exp2,
    "log": np.log,
    "log2": np.log2,
    "log10": np.log10,
    "sqrt": np.sqrt,
    "rsqrt": lambda x: 1 / np.sqrt(x),
    "sin": np.sin,
    "cos": np.cos,
    "tan": np.tan,
    "tanh": np.tanh,
    "atan": np.arctan,
    "sinh": np.sinh,
    "floor": np.floor,
    "ceil": np.ceil,
    "trunc": np.trunc,
    "round": lambda x: np.sign(x) * np.floor(np.abs(x) + 0.5),
    "fabs": np.abs,
    "abs": np.abs,
    "fract": lambda x: x - np.floor(x),
    "sign": np.sign,
    "saturate": lambda x: np.clip(x, 0, 1),
}


def _quiet_power(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """pow of a negative base to a fractional power is NaN, as in MSL; numpy also warns."""
    with np.errstate(invalid="ignore"):
        return np.power(x, y)


FUNCS2 = {
    "pow": lambda x, y: _quiet_power(x, y),
    "fmax": np.fmax,
    "fmin": np.fmin,
    "max": np.maximum,
    "min": np.minimum,
    "atan2": np.arctan2,
    "fmod": np.fmod,
    "copysign": np.copysign,
    "step": lambda e, x: (x >= e).astype(x.dtype),
}
POSITIVE = {"log", "log2", "log10", "sqrt", "rsqrt", "pow"}


def _source() -> str:
    lines = ["#include <metal_stdlib>", "using namespace metal;"]
    for ns in ("metal", "precise", "fast"):
        for t, v in (("float", "float4"), ("half", "half4")):
            body = []
            for k, f in enumerate(FUNCS1):
                if ns != "metal" and f in ("abs", "max", "min"):
                    body.append(f"  r[{k}] = metal::{f}(x);")
                else:
                    body.append(f"  r[{k}] = {ns}::{f}(x);")
            base = len(FUNCS1)
            for k, f in enumerate(FUNCS2):
                ff = f"metal::{f}" if ns != "metal" and f in ("max", "min") else f"{ns}::{f}"
                body.append(f"  r[{base + k}] = {ff}(x, y);")
            base += len(FUNCS2)
            body.append(f"  r[{base}] = {ns}::clamp(x, {t}(-0.5), {t}(0.5));")
            body.append(f"  r[{base + 1}] = {ns}::fma(x, y, {t}(1));")
            body.append(f"  r[{base + 2}] = metal::mix(x, y, {t}(0.25));")
            body.append(f"  r[{base + 3}] = {ns}::divide(x, y);")
            for kind, T in (("s", t), ("v", v)):
                lines.append(
                    f"kernel void math_{ns}_{kind}_{t}(device const {T}* a [[buffer(0)]], "
                    f"device const {T}* b [[buffer(1)]], device {T}* out [[buffer(2)]], "
                    "uint i [[thread_position_in_grid]]) {"
                )
                lines.append(f"  {T} x = a[i], y = b[i];")
                lines.append(f"  device {T}* r = out + i * {base + 4};")
                lines += body
                lines.append("}")
    return "\n".join(lines) + "\n" + EXTRA


EXTRA = r"""
kernel void geometric(device const float4* a [[buffer(0)]], device float* out [[buffer(1)]],
                      uint i [[thread_position_in_grid]]) {
  float4 x = a[2 * i], y = a[2 * i + 1];
  out[8 * i + 0] = dot(x, y);
  out[8 * i + 1] = length(x);
  out[8 * i + 2] = distance(x, y);
  out[8 * i + 3] = normalize(x).y;
  float3 c = cross(x.xyz, y.xyz);
  out[8 * i + 4] = c.x;
  out[8 * i + 5] = c.y;
  out[8 * i + 6] = c.z;
  out[8 * i + 7] = metal::precise::sqrt(dot(x.xy, x.xy));
}

kernel void int_funcs(device const uint* a [[buffer(0)]], device const int* s [[buffer(1)]],
                      device uint* out [[buffer(2)]], uint i [[thread_position_in_grid]]) {
  uint x = a[i];
  int y = s[i];
  out[10 * i + 0] = popcount(x);
  out[10 * i + 1] = clz(x);
  out[10 * i + 2] = ctz(x);
  out[10 * i + 3] = uint(abs(y));
  out[10 * i + 4] = uint(max(y, -3));
  out[10 * i + 5] = min(x, 1000u);
  out[10 * i + 6] = uint(clamp(y, -10, 10));
  out[10 * i + 7] = mulhi(x, 0x12345678u);
  out[10 * i + 8] = extract_bits(x, 4u, 8u);
  out[10 * i + 9] = reverse_bits(x);
}

kernel void limits(device float* f [[buffer(0)]], device int* n [[buffer(1)]],
                   device half* h [[buffer(2)]]) {
  f[0] = numeric_limits<float>::max();
  f[1] = numeric_limits<float>::min();
  f[2] = numeric_limits<float>::epsilon();
  f[3] = numeric_limits<float>::infinity();
  f[4] = -numeric_limits<float>::infinity();
  f[5] = numeric_limits<float>::quiet_NaN();
  f[6] = MAXFLOAT;
  f[7] = FLT_MAX;
  f[8] = float(numeric_limits<half>::max());
  f[9] = float(HALF_MAX);
  f[10] = M_PI_F;
  f[11] = INFINITY;
  f[12] = float(metal::numeric_limits<bfloat>::max());
  f[13] = FLT_MIN;
  f[14] = M_LOG2E_F;
  f[15] = numeric_limits<float>::lowest();
  n[0] = numeric_limits<int>::max();
  n[1] = numeric_limits<int>::min();
  n[2] = int(numeric_limits<uint>::max() >> 1);
  n[3] = numeric_limits<short>::min();
  n[4] = INT_MAX;
  n[5] = isnan(f[5]) + 2 * isinf(f[3]) + 4 * isfinite(f[0]) + 8 * signbit(-1.0f);
  n[6] = numeric_limits<uchar>::max();
  n[7] = CHAR_BIT;
  h[0] = numeric_limits<half>::max();
  h[1] = numeric_limits<half>::epsilon();
  h[2] = numeric_limits<half>::lowest();
  h[3] = HALF_MIN;
  h[4] = numeric_limits<half>::infinity();
  h[5] = M_PI_H;
}
"""


@pytest.fixture(scope="module")
def lib(msl):
    return msl.library(_source(), name="math")


NAMES = [*FUNCS1, *FUNCS2, "clamp", "fma", "mix", "divide"]


@pytest.mark.parametrize("ns", ["metal", "precise", "fast"])
@pytest.mark.parametrize("kind", ["s", "v"])
@pytest.mark.parametrize("tname", ["float", "half"])
def test_math(msl, lib, ns, kind, tname):
    dt = np.float32 if tname == "float" else np.float16
    rng = np.random.default_rng(1)
    n = 64
    shape = (n,) if kind == "s" else (n, 4)
    x = (rng.standard_normal(shape) * 2).astype(dt)
    y = (rng.standard_normal(shape) * 2 + 0.5).astype(dt)
    y[np.abs(y) < 0.1] = dt(0.7)
    out = np.zeros((n, len(NAMES)) + shape[1:], dt)
    (_, _, out) = msl.run(lib, f"math_{ns}_{kind}_{tname}", x, y, out, grid=(n,), threadgroup=(32,))
    xf, yf = x.astype(np.float64), y.astype(np.float64)
    rtol, atol = (2e-6, 1e-6) if dt == np.float32 else (2e-3, 2e-3)
    if ns == "fast":
        rtol, atol = max(rtol, 1e-5), max(atol, 1e-5)
    for k, name in enumerate(NAMES):
        if name in FUNCS1:
            arg = np.abs(xf) + 0.1 if name in POSITIVE else xf
            if name in POSITIVE:
                continue  # positive-domain functions are checked separately below
            expect = FUNCS1[name](arg)
        elif name in FUNCS2:
            expect = FUNCS2[name](xf, yf)
            if name == "pow":
                continue
        elif name == "clamp":
            expect = np.clip(xf, -0.5, 0.5)
        elif name == "fma":
            expect = xf * yf + 1
        elif name == "mix":
            expect = xf + (yf - xf) * 0.25
        else:
            expect = xf / yf
        got = out[:, k].astype(np.float64)
        tol = atol * 10 if name in ("tan", "sinh", "fmod") else atol
        np.testing.assert_allclose(got, expect.astype(dt), rtol=rtol * 4, atol=tol, err_msg=name)


@pytest.mark.parametrize("tname", ["float", "half"])
def test_math_positive_domain(msl, lib, tname):
    dt = np.float32 if tname == "float" else np.float16
    rng = np.random.default_rng(2)
    x = (np.abs(rng.standard_normal(32)) * 3 + 0.1).astype(dt)
    y = (rng.standard_normal(32)).astype(dt)
    out = np.zeros((32, len(NAMES)), dt)
    (_, _, out) = msl.run(lib, f"math_metal_s_{tname}", x, y, out, grid=(32,), threadgroup=(32,))
    xf, yf = x.astype(np.float64), y.astype(np.float64)
    rtol = 2e-6 if dt == np.float32 else 2e-3
    for name in POSITIVE:
        k = NAMES.index(name)
        expect = FUNCS2["pow"](xf, yf) if name == "pow" else FUNCS1[name](xf)
        np.testing.assert_allclose(out[:, k], expect.astype(dt), rtol=rtol * 4, err_msg=name)


def test_geometric(msl, lib):
    a = np.random.default_rng(3).standard_normal((16, 4)).astype(np.float32)
    (_, out) = msl.run(lib, "geometric", a, np.zeros(64, np.float32), grid=(8,), threadgroup=(8,))
    out = out.reshape(8, 8)
    x, y = a[0::2].astype(np.float64), a[1::2].astype(np.float64)
    np.testing.assert_allclose(out[:, 0], (x * y).sum(1), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out[:, 1], np.linalg.norm(x, axis=1), rtol=1e-6)
    np.testing.assert_allclose(out[:, 2], np.linalg.norm(x - y, axis=1), rtol=1e-6)
    np.testing.assert_allclose(out[:, 3], x[:, 1] / np.linalg.norm(x, axis=1), rtol=1e-5)
    np.testing.assert_allclose(out[:, 4:7], np.cross(x[:, :3], y[:, :3]), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out[:, 7], np.linalg.norm(x[:, :2], axis=1), rtol=1e-6)


def test_integer_functions(msl, lib):
    rng = np.random.default_rng(4)
    a = rng.integers(0, 2**32, 20, dtype=np.uint64).astype(np.uint32)
    a[0], a[1] = 0, 1 << 31
    s = rng.integers(-50, 50, 20).astype(np.int32)
    (_, _, out) = msl.run(
        lib, "int_funcs", a, s, np.zeros(200, np.uint32), grid=(20,), threadgroup=(20,)
    )
    out = out.reshape(20, 10)
    bits = [format(int(v), "032b") for v in a]
    np.testing.assert_array_equal(out[:, 0], [b.count("1") for b in bits])
    np.testing.assert_array_equal(out[:, 1], [len(b) - len(b.lstrip("0")) for b in bits])
    np.testing.assert_array_equal(out[:, 2], [len(b) - len(b.rstrip("0")) for b in bits])
    np.testing.assert_array_equal(out[:, 3], np.abs(s))
    np.testing.assert_array_equal(out[:, 4], np.maximum(s, -3).astype(np.uint32))
    np.testing.assert_array_equal(out[:, 5], np.minimum(a, 1000))
    np.testing.assert_array_equal(out[:, 6], np.clip(s, -10, 10).astype(np.uint32))
    np.testing.assert_array_equal(out[:, 7], (a.astype(np.uint64) * 0x12345678) >> 32)
    np.testing.assert_array_equal(out[:, 8], (a >> 4) & 0xFF)
    np.testing.assert_array_equal(out[:, 9], [int(b[::-1], 2) for b in bits])


def test_numeric_limits_and_constants(msl, lib):
    (f, n, h) = msl.run(
        lib,
        "limits",
        np.zeros(16, np.float32),
        np.zeros(8, np.int32),
        np.zeros(6, np.float16),
        grid=(1,),
        threadgroup=(1,),
    )
    fi = np.finfo(np.float32)
    assert f[0] == fi.max and f[1] == fi.tiny and f[2] == fi.eps
    assert f[3] == np.inf and f[4] == -np.inf and np.isnan(f[5])
    assert f[6] == fi.max and f[7] == fi.max and f[8] == 65504 and f[9] == 65504
    assert f[10] == np.float32(np.pi) and f[11] == np.inf
    assert f[12] == np.float32(3.3895313892515355e38) and f[13] == fi.tiny
    assert f[14] == np.float32(np.log2(np.e)) and f[15] == -fi.max
    np.testing.assert_array_equal(
        n, [2**31 - 1, -(2**31), 2**31 - 1, -32768, 2**31 - 1, 15, 255, 8]
    )
    hi = np.finfo(np.float16)
    np.testing.assert_array_equal(h, [hi.max, hi.eps, -hi.max, hi.tiny, np.inf, np.float16(np.pi)])
