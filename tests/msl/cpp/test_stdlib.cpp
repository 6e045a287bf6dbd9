// Tests of the emulated metal_stdlib (cpp/src/backends/host/msl/include).
// Build & run:
//   clang++ -std=c++17 -O2 -Wall -Wextra -pthread -I cpp/src/backends/host/msl/include
//       tests/msl/cpp/test_stdlib.cpp -o /tmp/test_stdlib && /tmp/test_stdlib
#include <math.h>  // the libstdc++ wrapper puts std::exp(float) ... at global scope: must not clash
#include <stdlib.h>

#include <cstdio>
#include <cstdlib>
#include <metal_atomic>
#include <metal_common>
#include <metal_compute>
#include <metal_geometric>
#include <metal_integer>
#include <metal_math>
#include <metal_numeric>
#include <metal_pack>
#include <metal_relational>
#include <metal_stdlib>
#include <metal_type_traits>
#include <metal_types>
#include <thread>  // std headers first: the MSL keyword macros below would break them
#include <vector>

static int g_failures = 0;
#define CHECK(...)                                                                         \
  do {                                                                                     \
    if (!(__VA_ARGS__)) {                                                                  \
      std::fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #__VA_ARGS__); \
      ++g_failures;                                                                        \
    }                                                                                      \
  } while (0)
#define SAME(T, ...) \
  static_assert(std::is_same<T, decltype(__VA_ARGS__)>::value, #T " != decltype(" #__VA_ARGS__ ")")

using namespace metal;

// ---- unqualified calls with `using namespace metal;` (the C library's math must not clash) ----
static float unqualified_calls(float x, float4 v, half h, int i, uint u) {
  SAME(float, exp(x));
  SAME(float, max(x, 0.0f));
  SAME(float, max(x, 0.0));  // unsuffixed literal: MSL treats it as float
  SAME(half, exp(h));
  SAME(half, max(h, h));
  SAME(float4, clamp(v, 0.0f, 1.0f));
  SAME(int, min(i, 3));
  SAME(uint, min(u, 3u));
  SAME(uint, min(u, 3));  // permissive: usual arithmetic conversions
  SAME(int, abs(i));      // ::abs(int) or metal's: both int
  SAME(float, abs(x));
  SAME(float, metal::exp(x));
  SAME(float, fast::exp(x));
  SAME(float, precise::exp(x));
  SAME(float, metal::fast::exp(x));
  SAME(float4, metal::precise::sqrt(v));
  SAME(bool, isnan(x));
  SAME(bool4, isnan(v));
  SAME(float, dot(v, v));
  return exp(x) + max(x, 0.0f) + float(exp(h));
}

// ---- compile-only checks ----------------------------------------------------------------------
static_assert(sizeof(half) == 2 && sizeof(bfloat) == 2, "");
static_assert(sizeof(float3) == 16 && alignof(float3) == 16, "");
static_assert(sizeof(float4) == 16 && alignof(float4) == 16, "");
static_assert(sizeof(float2) == 8 && alignof(float2) == 8, "");
static_assert(sizeof(half3) == 8 && alignof(half3) == 8, "");
static_assert(sizeof(half4) == 8 && sizeof(half2) == 4, "");
static_assert(sizeof(uchar3) == 4 && sizeof(bool4) == 4 && sizeof(long3) == 32 &&
                  alignof(ulong4) == 32,
              "");
static_assert(sizeof(packed_float3) == 12 && alignof(packed_float3) == 4, "");
static_assert(sizeof(packed_half3) == 6 && alignof(packed_half3) == 2, "");
static_assert(sizeof(packed_uchar4) == 4 && sizeof(packed_bfloat4) == 8, "");
static_assert(sizeof(float4x4) == 64 && sizeof(float3x3) == 48 && sizeof(half4x4) == 32, "");
static_assert(sizeof(atomic_uint) == sizeof(uint) && alignof(atomic_uint) == alignof(uint), "");
static_assert(sizeof(ulong) == 8 && sizeof(long) == 8, "");
static_assert(std::is_trivially_copyable<float4>::value && std::is_trivially_copyable<half3>::value,
              "");
static_assert(std::is_trivially_copyable<float4x4>::value &&
                  std::is_trivially_copyable<packed_float3>::value,
              "");
static_assert(metal::is_floating_point_v<half> && metal::is_floating_point_v<bfloat> &&
                  !metal::is_floating_point_v<int>,
              "");
static_assert(metal::is_arithmetic_v<half> && metal::is_vector_v<float4> &&
                  metal::vec_elements_v<int3> == 3,
              "");
static_assert(std::is_same<metal::make_scalar_t<half4>, half>::value, "");
static_assert(std::is_same<metal::vec<float, 4>, float4>::value &&
                  std::is_same<metal::matrix<float, 4, 4>, float4x4>::value,
              "");

// constexpr construction (for `constexpr constant float4 k[] = {...}`)
constexpr float4 kConst[] = {float4(1.0f, 2.0f, 3.0f, 4.0f), float4(0.5f),
                             float4(float2(1, 2), 3, 4)};
static_assert(kConst[0].elems[2] == 3.0f && kConst[1].elems[3] == 0.5f &&
                  kConst[2].elems[1] == 2.0f,
              "");
constexpr half kHalfMax = numeric_limits<half>::max();
static_assert(float(kHalfMax) == 65504.0f, "");

static void compile_spellings() {
  float f = 1.5f;
  half h = half(1.0);
  int i = 3;
  uint u = 4;
  short s = 2;
  ushort us = 5;
  float2 f2(1.0f, 2.0f);
  float3 f3(f2, 3.0f);
  float4 f4(f3, 4.0f);
  SAME(float4, float4(f, f3));
  SAME(float4, float4(f2, f2));
  SAME(float4, float4(f, f2, f));
  SAME(float4, float4(f, f, f2));
  SAME(float4, float4(f2, f, f));
  SAME(float3, float3(f, f2));
  SAME(float4, float4(half4(h)));
  SAME(int2, int2(f2));
  SAME(uint3, uint3(1, 2, 3));
  SAME(float4, f4 + 1.0f);
  SAME(float4, 2 * f4);
  SAME(half4, half4(h) * h);
  SAME(int4, int4(1) % 3);
  SAME(uint4, uint4(7u) >> 1);
  SAME(uint4, ~uint4(7u));
  SAME(bool4, f4 < 2.0f);
  SAME(bool4, f4 == f4);
  SAME(bool4, !(f4 < 2.0f));
  SAME(bool4, (f4 < 2.0f) && (f4 > 0.0f));
  SAME(float4, -f4);
  SAME(float2, f4.template swizzle<0, 1>());
  SAME(float4, f2.template swizzle<0, 1, 0, 1>());
  SAME(float, f4.template swizzle<2>());
  SAME(float4, select(f4, float4(0.0f), f4 < 2.0f));
  SAME(float, select(f, 0.0f, true));
  SAME(bool, all(f4 < 2.0f));
  SAME(bool, any(f4 < 2.0f));
  SAME(uint, as_type<uint>(f));
  SAME(half2, as_type<half2>(u));
  SAME(float2, as_type<float2>(ulong(1)));
  SAME(ushort, as_type<ushort>(h));
  SAME(float, fma(f, f, f));
  SAME(half, fma(h, h, h));
  SAME(float4, mix(f4, f4, 0.5f));
  SAME(float4, mix(f4, f4, f4));
  SAME(half4, mix(half4(h), half4(h), h));
  SAME(float4, smoothstep(0.0f, 1.0f, f4));
  SAME(float4, step(0.5f, f4));
  SAME(float4, saturate(f4));
  SAME(half, saturate(h));
  SAME(float4, pow(f4, 2.0f));
  SAME(float, length(f4));
  SAME(half, length(half4(h)));
  SAME(float3, cross(f3, f3));
  SAME(float4, normalize(f4));
  SAME(float4, fract(f4));
  SAME(float4, max(f4, 0.0f));
  SAME(float4, max(0.0f, f4));
  SAME(int4, max(int4(1), 0));
  SAME(uint, max(u, 1u));
  SAME(short, min(s, s));
  SAME(ushort, max(us, us));
  SAME(int, clamp(i, 0, 10));
  SAME(float, clamp(f, 0.0f, 1.0f));
  SAME(half, clamp(h, half(0.0), half(1.0)));
  SAME(uint, popcount(u));
  SAME(uint4, popcount(uint4(u)));
  SAME(int, clz(i));
  SAME(uint, ctz(u));
  SAME(uint, mulhi(u, u));
  SAME(uint, rotate(u, 3u));
  SAME(uint, extract_bits(u, 1, 3));
  SAME(float, rsqrt(f));
  SAME(float, fast::rsqrt(f));
  SAME(float, fast::divide(f, f));
  SAME(float, precise::divide(f, f));
  SAME(float, atan2(f, f));
  SAME(float, fmax(f, f));
  SAME(float, fmin(f, f));
  SAME(float, copysign(f, f));
  SAME(float, fmod(f, f));
  SAME(float, sign(f));
  SAME(float, trunc(f));
  SAME(float, round(f));
  SAME(float, rint(f));
  SAME(float, floor(f));
  SAME(float, ceil(f));
  SAME(float4, floor(f4));
  SAME(bool, isinf(f));
  SAME(bool, isfinite(h));
  SAME(bool, signbit(f));
  SAME(float, exp2(f));
  SAME(float, exp10(f));
  SAME(float, log(f));
  SAME(float, log2(f));
  SAME(float, log10(f));
  SAME(float, sqrt(f));
  SAME(float, tanh(f));
  SAME(half, tanh(h));
  SAME(float, sin(f));
  SAME(float, cos(f));
  SAME(float, distance(f4, f4));
  SAME(float, ldexp(f, 2));
  SAME(float4, ldexp(f4, int4(2)));
  SAME(float4x4, float4x4(1.0f));
  SAME(float4, float4x4(1.0f) * f4);
  SAME(float4, f4 * float4x4(1.0f));
  SAME(float4, float3x4(1.0f) * f3);  // 3 columns of float4
  SAME(float3, f4 * float3x4(1.0f));
  SAME(float3, float4x3(1.0f) * f4);
  SAME(float4x4, float4x4(1.0f) * float4x4(1.0f));
  SAME(float2x4, float3x4(1.0f) * float2x3(1.0f));
  SAME(float3x4, transpose(float4x3(1.0f)));
  (void)i;
}

// A kernel library may define its own function with a metal:: name (non-template): no clash,
// and its own overload wins for an exact match.
static inline float saturate(float x) {
  return x < 0.5f ? 0.0f : 1.0f;
}

// brace initialisation as in MSL
static const float4 kBrace[] = {{1, 2, 3, 4}, {}};
static const float2 kBrace2[2] = {{1, 2}, {3, 4}};

// ---- tests -------------------------------------------------------------------------------------
static bool near(float a, float b, float tol = 1e-5f) {
  return std::fabs(a - b) <= tol * (1.0f + std::fabs(b));
}

static void test_half() {
  half a = half(1.0009765625f);  // 1 + 2^-10
  half b = a;
  half c = half(-1.0f);
  // a*b = 1 + 2^-9 + 2^-20 rounds to 1 + 2^-9 in half before the add (per-op rounding)
  half r = a * b + c;
  CHECK(float(r) == 0x1p-9f);
  CHECK(float(half(65504.0f) * half(2.0f)) == __builtin_inff());
  CHECK(float(half(1.0) / half(3.0)) == 0.333251953125f);
  half h = 2;
  h += 1;
  h *= half(0.5);
  CHECK(float(h) == 1.5f);
  SAME(float, h + 1.0f);
  SAME(half, h + 1);
  CHECK(float(HALF_MAX) == 65504.0f);
  CHECK(float(numeric_limits<half>::epsilon()) == 0x1p-10f);
  CHECK(float(numeric_limits<half>::min()) == 0x1p-14f);
  CHECK(float(numeric_limits<half>::lowest()) == -65504.0f);
  CHECK(isinf(numeric_limits<half>::infinity()) && isnan(numeric_limits<half>::quiet_NaN()));
  CHECK(as_type<ushort>(half(1.0)) == 0x3c00);
  CHECK(float(exp(half(1.0))) == float(half(2.718281828f)));
  CHECK(float(M_PI_H) == float(half(3.14159265f)));
  // fract stays < 1 after rounding to half
  CHECK(float(fract(half(-1e-4f))) < 1.0f);
}

static uint32_t rng_state = 12345u;
static uint32_t rng() {
  rng_state = rng_state * 1664525u + 1013904223u;
  return rng_state;
}

// half vector arithmetic (F16C fast path when compiled with -mf16c) == per-component _Float16
static void test_half_vectors() {
  int mismatches = 0;
  for (int it = 0; it < 200000; ++it) {
    half4 a, b;
    for (int i = 0; i < 4; ++i) {
      a.elems[i] = as_type<half>(ushort((rng() & 0x7bffu) | (rng() & 0x8000u)));
      b.elems[i] = as_type<half>(ushort((rng() & 0x7bffu) | (rng() & 0x8000u)));
    }
    const half s = b.y;
    half4 r[5] = {a + b, a - b, a * b, a / b, a * s};
    half3 r3 = a.template swizzle<0, 1, 2>() * b.template swizzle<0, 1, 2>();
    half2 r2 = s - a.template swizzle<2, 3>();
    for (int i = 0; i < 4; ++i) {
      const half x = a.elems[i], y = b.elems[i];
      const half e[5] = {half(x + y), half(x - y), half(x * y), half(x / y), half(x * s)};
      for (int k = 0; k < 5; ++k) {
        const ushort got = as_type<ushort>(r[k].elems[i]), want = as_type<ushort>(e[k]);
        if (got != want && !(isnan(r[k].elems[i]) && isnan(e[k]))) ++mismatches;
      }
      if (i < 3 && as_type<ushort>(r3.elems[i]) != as_type<ushort>(half(x * y)) && !isnan(x * y))
        ++mismatches;
      if (i < 2 && as_type<ushort>(r2.elems[i]) != as_type<ushort>(half(s - a.elems[i + 2])) &&
          !isnan(r2.elems[i]))
        ++mismatches;
    }
  }
  CHECK(mismatches == 0);
}

static void test_misc() {
  CHECK(saturate(0.7f) == 1.0f && saturate(0.2f) == 0.0f);  // the kernel's own overload
  CHECK(float(metal::saturate(half(0.7))) == float(half(0.7)));
  CHECK(kBrace[0].w == 4 && kBrace[1].x == 0 && kBrace2[1].y == 4);
  CHECK(pack_float_to_unorm4x8(float4(0.0f, 1.0f, 0.5f, 2.0f)) == 0xff80ff00u);
  float4 up = unpack_unorm4x8_to_float(0xff80ff00u);
  CHECK(up.x == 0.0f && up.y == 1.0f && near(up.z, 128.0f / 255.0f) && up.w == 1.0f);
  CHECK(all(unpack_snorm4x8_to_float(pack_float_to_snorm4x8(float4(-1, 1, 0, 0.5f))) ==
            float4(-1, 1, 0, 64.0f / 127.0f)));
  CHECK(pack_float_to_unorm2x16(float2(1.0f, 0.0f)) == 0xffffu);
  CHECK(std::is_same<decltype(unpack_unorm4x8_to_half(0u)), half4>::value);
  CHECK(exp(1.0) > 2.718281828 && exp(1.0) < 2.7182818285);  // double call: C library, unaffected
}

static void test_bfloat() {
  CHECK(as_type<ushort>(bfloat(1.0f)) == 0x3f80);
  CHECK(as_type<ushort>(bfloat(1.00390625f)) == 0x3f80);  // tie -> even
  CHECK(as_type<ushort>(bfloat(1.01171875f)) == 0x3f82);  // tie -> even (up)
  CHECK(as_type<ushort>(bfloat(1.0079f)) == 0x3f81);
  CHECK(float(bfloat(3.0f)) == 3.0f);
  bfloat x = bfloat(2.0f);
  bfloat y = x * x + 1;
  SAME(bfloat, x * x + 1);
  SAME(float, x * 1.5f);
  CHECK(float(y) == 5.0f);
  CHECK(x < y && y >= 5.0f);
  CHECK(bfloat(__builtin_nanf("")) != bfloat(__builtin_nanf("")));
  CHECK(float(numeric_limits<bfloat>::max()) == 0x1.fep127f);
  bfloat4 bv(1.0f, 2.0f, 3.0f, 4.0f);
  bv = bv * bfloat(2.0f);
  CHECK(float(bv.w) == 8.0f);
  float4 fv = float4(bv);
  CHECK(fv.z == 6.0f);
  float fx = x;
  half hb = half(float(x));
  CHECK(fx == 2.0f && float(hb) == 2.0f);
  bfloat z = true ? x : 0;  // a bfloat, as in MSL (the integer converts)
  uint u = x;               // bfloat converts to integers implicitly, as in MSL
  CHECK(u == 2u);
  volatile float big = 256.0f;
  bfloat sum = bfloat(big) + bfloat(1.0f) + bfloat(1.0f);  // each + rounds: 257 -> 256, twice
  CHECK(float(sum) == 256.0f);
  half hsum = half(2048.0f) + half(1.0f) + half(1.0f);  // the same for half
  CHECK(float(hsum) == 2048.0f);
  SAME(bfloat, true ? x : 0);
  CHECK(float(z) == 2.0f);
}

static void test_vectors() {
  float4 v(1.0f, 2.0f, 3.0f, 4.0f);
  CHECK(v.x == 1 && v.y == 2 && v.z == 3 && v.w == 4 && v.r == 1 && v.a == 4 && v[2] == 3);
  v.y = 5.0f;
  v[3] = 6.0f;
  CHECK(v.g == 5 && v.w == 6);
  float4 s = 2.0f;
  CHECK(all(s == float4(2.0f)));
  float4 z{};
  CHECK(all(z == 0.0f));
  float3 c3 = float3(float2(7, 8), 9);
  CHECK(c3.x == 7 && c3.y == 8 && c3.z == 9);
  float4 c4 = float4(1, float2(2, 3), 4);
  CHECK(c4.y == 2 && c4.z == 3 && c4.w == 4);
  float4 c5 = float4(0.5f, c3);
  CHECK(c5.x == 0.5f && c5.w == 9);
  // swizzles
  float4 p(1, 2, 3, 4);
  float2 yx = p.template swizzle<1, 0>();
  CHECK(yx.x == 2 && yx.y == 1);
  float4 wzyx = p.template swizzle<3, 2, 1, 0>();
  CHECK(wzyx.x == 4 && wzyx.w == 1);
  p.template swizzle_ref<0, 1>() = float2(10, 20);
  CHECK(p.x == 10 && p.y == 20 && p.z == 3);
  p.template swizzle_ref<2, 0>() += float2(1, 1);
  CHECK(p.z == 4 && p.x == 11);
  p.template swizzle_ref<3, 2, 1>() *= 2.0f;
  CHECK(p.w == 8 && p.z == 8 && p.y == 40 && p.x == 11);
  p.template swizzle_ref<0, 1>() = p.template swizzle<1, 0>();  // aliasing-safe
  CHECK(p.x == 40 && p.y == 11);
  float3 sw = (p + 1.0f).template swizzle<0, 0, 0>();
  CHECK(all(sw == 41.0f));
  // arithmetic and broadcast
  float4 a(1, 2, 3, 4), b(4, 3, 2, 1);
  CHECK(all(a + b == 5.0f));
  CHECK(all(a * 2.0f == float4(2, 4, 6, 8)));
  CHECK(all(2.0f - a == float4(1, 0, -1, -2)));
  CHECK(all(a / b == float4(0.25f, 2.0f / 3.0f, 1.5f, 4.0f)));
  a += 1;
  a -= float4(1.0f);
  a *= 2;
  a /= 2.0f;
  CHECK(all(a == float4(1, 2, 3, 4)));
  int4 iv(5, -6, 7, 8);
  CHECK(all(iv % 4 == int4(1, -2, 3, 0)));
  CHECK(all((iv & 1) == int4(1, 0, 1, 0)));
  CHECK(all((uint4(1) << uint4(0, 1, 31, 32)) == uint4(1, 2, 0x80000000u, 1)));  // count mod 32
  CHECK(all(-iv == int4(-5, 6, -7, -8)));
  CHECK(all((iv > 0) == bool4(true, false, true, true)));
  CHECK(any(iv < 0) && !all(iv < 0));
  uchar4 u8(250, 251, 252, 253);
  u8 += uchar(10);  // wraps like uchar
  CHECK(u8.x == 4 && u8.w == 7);
  // conversions
  half4 h4 = half4(float4(1.5f, 2.5f, 65504.0f, 1e6f));
  CHECK(float(h4.x) == 1.5f && isinf(h4.w));
  int2 i2 = int2(float2(1.7f, -1.7f));
  CHECK(i2.x == 1 && i2.y == -1);
  float4 fb = float4(bool4(true, false, true, false));
  CHECK(fb.x == 1 && fb.y == 0);
  // packed
  packed_float3 pk(1, 2, 3);
  float3 up = pk;
  CHECK(up.z == 3);
  pk = float3(4, 5, 6);
  CHECK(pk.x == 4 && pk[2] == 6);
  float3 sum = pk + up;
  CHECK(sum.x == 5 && sum.z == 9);
  pk.template swizzle_ref<0, 2>() = float2(7, 8);
  CHECK(pk.x == 7 && pk.z == 8);
  float buf[7] = {0, 1, 2, 3, 4, 5, 6};
  const packed_float3* pp = reinterpret_cast<const packed_float3*>(buf + 1);
  CHECK(float3(pp[1]).x == 4);
  // select / all / any
  float4 sel = select(float4(0.0f), float4(1.0f), bool4(true, false, true, false));
  CHECK(all(sel == float4(1, 0, 1, 0)));
  CHECK(select(1, 2, false) == 1 && select(1, 2, true) == 2);
  // as_type
  CHECK(as_type<uint>(1.0f) == 0x3f800000u);
  CHECK(as_type<float>(0x40000000u) == 2.0f);
  uint2 bits = as_type<uint2>(float2(1.0f, -2.0f));
  CHECK(bits.x == 0x3f800000u && bits.y == 0xc0000000u);
  half2 hh = as_type<half2>(0x3c004000u);
  CHECK(float(hh.x) == 2.0f && float(hh.y) == 1.0f);
}

static void test_matrices() {
  float2x2 m(float2(1, 2), float2(3, 4));  // columns
  CHECK(m[1][0] == 3 && m[0][1] == 2);
  float2 v(1, 1);
  float2 mv = m * v;  // (1+3, 2+4)
  CHECK(mv.x == 4 && mv.y == 6);
  float2 vm = v * m;  // (1+2, 3+4)
  CHECK(vm.x == 3 && vm.y == 7);
  float2x2 mm = m * m;  // [[1,3],[2,4]]^2 = [[7,15],[10,22]]
  CHECK(mm[0][0] == 7 && mm[0][1] == 10 && mm[1][0] == 15 && mm[1][1] == 22);
  float2x2 t = transpose(m);
  CHECK(t[0][1] == 3 && t[1][0] == 2);
  CHECK(determinant(m) == -2.0f);
  float4x4 id(1.0f);
  float4 q(1, 2, 3, 4);
  CHECK(all(id * q == q));
  float2x2 sc = m * 2.0f;
  CHECK(sc[1][1] == 8);
  float2x2 fromscalars(1, 2, 3, 4);
  CHECK(fromscalars == m);
  float3x4 r(1.0f);
  float4 rv = r * float3(1, 2, 3);
  CHECK(rv.x == 1 && rv.y == 2 && rv.z == 3 && rv.w == 0);
  half2x2 hm = half2x2(m);
  CHECK(float(hm[1][1]) == 4);
}

static void test_math() {
  CHECK(near(exp(1.0f), 2.7182818f));
  CHECK(near(metal::precise::exp2(3.0f), 8.0f));
  CHECK(near(exp10(2.0f), 100.0f));
  CHECK(near(rsqrt(4.0f), 0.5f));
  CHECK(near(powr(2.0f, 10.0f), 1024.0f));
  CHECK(max(-1.0f, 0.0f) == 0.0f && min(3, -4) == -4 && max(2u, 7u) == 7u);
  CHECK(max(__builtin_nanf(""), 1.0f) == 1.0f && fmin(1.0f, __builtin_nanf("")) == 1.0f);
  CHECK(clamp(5, 0, 3) == 3 && clamp(-1.5f, 0.0f, 1.0f) == 0.0f);
  float4 cl = clamp(float4(-1, 0.5f, 2, 0), 0.0f, 1.0f);
  CHECK(all(cl == float4(0, 0.5f, 1, 0)));
  CHECK(saturate(1.5f) == 1.0f && saturate(-0.5f) == 0.0f);
  CHECK(mix(0.0f, 10.0f, 0.25f) == 2.5f);
  CHECK(step(0.5f, 0.4f) == 0.0f && step(0.5f, 0.5f) == 1.0f);
  CHECK(near(smoothstep(0.0f, 1.0f, 0.5f), 0.5f));
  CHECK(sign(-3.0f) == -1.0f && sign(0.0f) == 0.0f && sign(2.0f) == 1.0f);
  CHECK(fract(-0.25f) == 0.75f && fract(1.5f) == 0.5f);
  CHECK(round(2.5f) == 3.0f && rint(2.5f) == 2.0f && trunc(-2.7f) == -2.0f);
  CHECK(fmod(7.0f, 3.0f) == 1.0f);
  CHECK(abs(-3) == 3 && abs(-2.5f) == 2.5f && all(abs(int2(-1, 2)) == int2(1, 2)));
  CHECK(metal::abs(INT_MIN) == INT_MIN);  // no UB, wraps like the GPU (::abs would be UB)
  float cv;
  float sv = sincos(0.0f, cv);
  CHECK(sv == 0.0f && cv == 1.0f);
  float4 cv4;
  float4 sv4 = sincos(float4(0.0f), cv4);
  CHECK(all(sv4 == 0.0f) && all(cv4 == 1.0f));
  float ip;
  CHECK(modf(3.25f, ip) == 0.25f && ip == 3.0f);
  int ex;
  CHECK(frexp(8.0f, ex) == 0.5f && ex == 4);
  CHECK(ldexp(1.0f, 3) == 8.0f);
  CHECK(isnan(NAN) && isinf(INFINITY) && isfinite(1.0f) && !isfinite(INFINITY) && signbit(-0.0f));
  CHECK(near(dot(float3(1, 2, 3), float3(4, 5, 6)), 32.0f));
  CHECK(all(cross(float3(1, 0, 0), float3(0, 1, 0)) == float3(0, 0, 1)));
  CHECK(near(length(float2(3, 4)), 5.0f) && near(distance(float2(0), float2(3, 4)), 5.0f));
  CHECK(near(length(normalize(float4(1, 2, 3, 4))), 1.0f));
  CHECK(near(sinpi(0.5f), 1.0f) && near(cospi(1.0f), -1.0f));
  CHECK(float(nextafter(half(1.0), half(2.0))) == 1.0f + 0x1p-10f);
  CHECK(nextafter(1.0f, 2.0f) == 1.0f + 0x1p-23f);
  CHECK(median3(3, 1, 2) == 2 && max3(1.0f, 5.0f, 2.0f) == 5.0f);
  // half math: computed in float, rounded to half
  half hx = half(0.5);
  CHECK(float(tanh(hx)) == float(half(tanhf(0.5f))));
  half4 h4 = half4(half(1.0), half(4.0), half(9.0), half(16.0));
  CHECK(all(sqrt(h4) == half4(half(1.0), half(2.0), half(3.0), half(4.0))));
  // integer
  CHECK(popcount(0xffu) == 8u && popcount(uchar(0x0f)) == 4);
  CHECK(clz(1u) == 31u && clz(0u) == 32u && clz(ushort(1)) == 15 && ctz(8u) == 3u && ctz(0) == 32);
  CHECK(mulhi(0x80000000u, 4u) == 2u && mulhi(-2, 0x40000000) == -1);
  CHECK(rotate(0x80000001u, 1u) == 3u && rotate(uchar(0x81), uchar(4)) == 0x18);
  CHECK(extract_bits(0xf0u, 4, 4) == 0xfu && extract_bits(int(0xf0), 4, 4) == -1);
  CHECK(insert_bits(0u, 0x3u, 4, 2) == 0x30u);
  CHECK(reverse_bits(1u) == 0x80000000u);
  CHECK(addsat(uchar(250), uchar(10)) == 255 && subsat(uchar(5), uchar(10)) == 0 &&
        addsat(INT_MAX, 1) == INT_MAX);
  CHECK(hadd(UINT_MAX, UINT_MAX) == UINT_MAX && rhadd(1, 2) == 2);
  CHECK(absdiff(-5, 5) == 10);
  // constants
  CHECK(near(M_PI_F, 3.14159265f) && MAXFLOAT == FLT_MAX && near(M_SQRT2_F, 1.41421356f) &&
        M_LN2_F > 0.69f);
  CHECK(numeric_limits<float>::max() == FLT_MAX && numeric_limits<int>::max() == INT_MAX);
  CHECK(numeric_limits<uint>::max() == 0xffffffffu &&
        FLT_EPSILON == numeric_limits<float>::epsilon());
}

static void test_atomics() {
  std::vector<uint> counter(1, 0u);
  std::vector<float> fsum(1, 0.0f);
  std::vector<int> imax(1, -1000);
  auto worker = [&](int id) {
    atomic_uint* c =
        reinterpret_cast<atomic_uint*>(counter.data());  // device atomic_uint* alias of uint buffer
    volatile atomic_float* f = reinterpret_cast<atomic_float*>(fsum.data());
    atomic_int* m = reinterpret_cast<atomic_int*>(imax.data());
    for (int i = 0; i < 100000; ++i) {
      atomic_fetch_add_explicit(c, 1u, memory_order_relaxed);
      atomic_fetch_add_explicit(f, 1.0f, memory_order_relaxed);
      atomic_fetch_max_explicit(m, id * 100000 + i, memory_order_relaxed);
    }
  };
  std::thread t1(worker, 0), t2(worker, 1);
  t1.join();
  t2.join();
  CHECK(counter[0] == 200000u);
  CHECK(fsum[0] == 200000.0f);
  CHECK(imax[0] == 199999);
  atomic_int ai;
  atomic_store_explicit(&ai, 5, memory_order_relaxed);
  int expected = 4;
  CHECK(!atomic_compare_exchange_weak_explicit(&ai, &expected, 7, memory_order_relaxed,
                                               memory_order_relaxed));
  CHECK(expected == 5);
  CHECK(atomic_compare_exchange_weak_explicit(&ai, &expected, 7, memory_order_relaxed,
                                              memory_order_relaxed));
  CHECK(atomic_load_explicit(&ai, memory_order_relaxed) == 7);
  CHECK(atomic_exchange_explicit(&ai, 1, memory_order_relaxed) == 7);
  CHECK(atomic_fetch_or_explicit(&ai, 6, memory_order_relaxed) == 1 &&
        atomic_load_explicit(&ai, memory_order_relaxed) == 7);
  CHECK(atomic_fetch_and_explicit(&ai, 3, memory_order_relaxed) == 7);
  CHECK(atomic_fetch_xor_explicit(&ai, 1, memory_order_relaxed) == 3);
  CHECK(atomic_fetch_sub_explicit(&ai, 2, memory_order_relaxed) == 2 &&
        atomic_load_explicit(&ai, memory_order_relaxed) == 0);
  CHECK(atomic_fetch_min_explicit(&ai, -3, memory_order_relaxed) == 0 &&
        atomic_load_explicit(&ai, memory_order_relaxed) == -3);
  atomic_bool ab;
  atomic_store_explicit(&ab, true, memory_order_relaxed);
  CHECK(atomic_load_explicit(&ab, memory_order_relaxed));
  atomic_thread_fence(mem_flags::mem_device, memory_order_seq_cst,
                      thread_scope::thread_scope_device);
  CHECK(unsigned(mem_flags::mem_device | mem_flags::mem_threadgroup) == 3u);
}

// ---- MSL-like code as the translator emits it (after the prelude of every translated library,
// which defines MSL's keywords as macros) ------------------------------------------------------
#include "metallic_msl_prelude.h"

constant float kScale = 0.5f;
constexpr constant float2 kOffsets[2] = {float2(0.0f, 1.0f), float2(1.0f, 0.0f)};

METAL_FUNC float4 shade(float4 c, thread float& acc) {
  float3 rgb = c.template swizzle<0, 1, 2>() * kScale;
  acc += dot(rgb, float3(1.0f));
  return float4(rgb, 1.0f);
}

template <typename T>
METAL_FUNC T silu(T x) {
  return x / (T(1) + exp(-x));
}

kernel void add_f32(device const float* a, device const float* b, device float* out, uint gid) {
  out[gid] = a[gid] + b[gid];
}
kernel void add_f4(device const float4* a, device const float4* b, device float4* out, uint gid) {
  out[gid] = a[gid] + b[gid];
}
kernel void add_h(device const half* a, device const half* b, device half* out, uint gid) {
  out[gid] = a[gid] + b[gid];
}

kernel void sample_kernel(device const half4* in, device float4* out, device atomic_uint* count,
                          threadgroup float* scratch, constant uint& n, uint gid, uint lid) {
  if (gid >= n) return;
  half4 h = in[gid];
  float4 f = float4(h);
  f.template swizzle_ref<0, 1>() += kOffsets[gid & 1];
  float acc = 0.0f;
  float4 s = shade(f, acc);
  scratch[lid] = acc;
  half hs = silu(h.x) * half(2.0);
  s.w = max(float(hs), 0.0f);
  s = clamp(s, 0.0f, 100.0f);
  out[gid] = select(s, float4(0.0f), isnan(s));
  if (all(s.template swizzle<0, 1>() > 0.0f))
    atomic_fetch_add_explicit(count, 1u, memory_order_relaxed);
}

#undef device
#undef constant
#undef thread
#undef threadgroup
#undef kernel
#undef METAL_FUNC

static void test_sample_kernel() {
  const uint n = 4;
  half4 in[n] = {half4(half(1.0), half(2.0), half(3.0), half(1.0)), half4(half(0.0)),
                 half4(half(-1.0)), half4(half(4.0))};
  float4 out[n];
  uint count = 0;
  float scratch[n];
  std::thread ts[n] = {};
  for (uint g = 0; g < n; ++g)
    ts[g] = std::thread(sample_kernel, in, out, reinterpret_cast<atomic_uint*>(&count), scratch,
                        std::cref(n), g, g);
  for (auto& t : ts) t.join();
  // gid 0: f = (1,2,3,1) + (0,1) -> (1,3,3,1); rgb*0.5 = (0.5,1.5,1.5); acc = 3.5
  CHECK(out[0].x == 0.5f && out[0].y == 1.5f && out[0].z == 1.5f);
  CHECK(scratch[0] == 3.5f);
  CHECK(near(out[0].w, float(half(float(silu(half(1.0))) * 2.0f)), 1e-3f));
  CHECK(count == 2u);  // gid 1 has y == 0, gid 2 negative x,y
  float a[3] = {1, 2, 3}, b[3] = {4, 5, 6}, o[3];
  for (uint i = 0; i < 3; ++i) add_f32(a, b, o, i);
  CHECK(o[2] == 9);
  half ha[2] = {half(1.0), half(2048.0)}, hb[2] = {half(2.0), half(1.0)}, ho[2];
  for (uint i = 0; i < 2; ++i) add_h(ha, hb, ho, i);
  CHECK(float(ho[0]) == 3.0f && float(ho[1]) == 2048.0f);  // 2049 rounds to 2048 in half
}

int main() {
  (void)unqualified_calls(1.0f, float4(1.0f), half(1.0), 1, 1u);
  compile_spellings();
  test_half();
  test_half_vectors();
  test_bfloat();
  test_vectors();
  test_misc();
  test_matrices();
  test_math();
  test_atomics();
  test_sample_kernel();
  if (g_failures) {
    std::fprintf(stderr, "%d check(s) failed\n", g_failures);
    return 1;
  }
  std::printf("test_stdlib: all checks passed\n");
  return 0;
}
