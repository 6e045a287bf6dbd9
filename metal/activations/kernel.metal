// Threading: one thread per 4 consecutive outputs (one 4-vector load/store when aligned, else 4
// scalars); no threadgroup memory, no collectives. Traffic: each input read once, each output
// written once: the minimum.
#include <metal_stdlib>
#include "activations/params.h"
#include "common/vec4_io.h"
using namespace metal;

// erf to float accuracy (MSL has none): a Taylor series below 0.5, where 1 - erfc would lose
// the relative accuracy, and above it the Chebyshev fit of erfc (relative error < 1.2e-7, Press
// et al., Numerical Recipes, 2nd ed., section 6.2).

// erf(x) for |x| < 0.5: 2/sqrt(pi) (x - x^3/3 + x^5/10 - x^7/42 + x^9/216 - x^11/1320); the next
// term is below 3e-8 x.
inline float erf_series(float x) {
  const float x2 = x * x;
  const float s =
      1.0f + x2 * (-1.0f / 3 + x2 * (1.0f / 10 + x2 * (-1.0f / 42 + x2 * (1.0f / 216 +
                                                                        x2 * (-1.0f / 1320)))));
  return 1.1283791671f * x * s;
}

// erfc(a) for a >= 0.5, given a * a as sq_hi + sq_lo: the caller squares exactly (with fma), as
// exp(-a^2) would otherwise lose a^2 * 6e-8 of relative accuracy in the tail.
inline float erfc_fit(float a, float sq_hi, float sq_lo) {
  const float t = 1.0f / (1.0f + 0.5f * a);
  const float poly =
      -1.26551223f +
      t * (1.00002368f +
           t * (0.37409196f +
                t * (0.09678418f +
                     t * (-0.18628806f +
                          t * (0.27886807f +
                               t * (-1.13520398f +
                                    t * (1.48851587f + t * (-0.82215223f + t * 0.17087277f))))))));
  return t * precise::exp(poly - sq_hi) * (1.0f - sq_lo);
}

struct Silu {
  float operator()(float x) const { return x / (1.0f + precise::exp(-x)); }
};
// x * Phi(x) = x/2 * (1 + erf(x / sqrt(2))); for x < 0 that is x/2 * erfc(|x| / sqrt(2)), which
// keeps its relative accuracy where 1 + erf would cancel.
struct GeluErf {
  float operator()(float x) const {
    const float a = fabs(x) * 0.70710678118f;
    if (a < 0.5f) {
      return 0.5f * x * (1.0f + erf_series(x * 0.70710678118f));
    }
    const float x2 = x * x;
    const float erfc = erfc_fit(a, 0.5f * x2, 0.5f * fma(x, x, -x2));  // a^2 = x^2 / 2
    return 0.5f * x * (x > 0.0f ? 2.0f - erfc : erfc);
  }
};
struct GeluTanh {
  float operator()(float x) const {
    const float inner = 0.79788456080f * (x + 0.044715f * x * x * x);  // sqrt(2/pi) * (...)
    return 0.5f * x * (1.0f + precise::tanh(inner));
  }
};

template <typename Op>
inline float4 apply4(float4 v) {
  const Op op;
  return float4(op(v.x), op(v.y), op(v.z), op(v.w));
}

// out[i] = op(x[i]) for the 4 outputs starting at 4 * tid.
template <typename T, typename Op>
kernel void activation_unary(device const T* x [[buffer(0)]], device T* out [[buffer(1)]],
                             constant ActivationParams& p [[buffer(2)]],
                             uint tid [[thread_position_in_grid]]) {
  const uint i = tid * 4;
  if (i >= p.n) {
    return;
  }
  const bool whole = p.vec4 != 0 && i + 4 <= p.n;
  store4(out, i, p.n, whole, apply4<Op>(load4(x, i, p.n, whole)));
}

// out[i] = silu(gate[i]) * up[i]; with `fused`, gate and up are the two halves of each row of
// one [..., 2F] tensor (gate first) and `up` is unused.
template <typename T>
kernel void swiglu(device const T* gate [[buffer(0)]], device const T* up [[buffer(1)]],
                   device T* out [[buffer(2)]], constant ActivationParams& p [[buffer(3)]],
                   uint tid [[thread_position_in_grid]]) {
  const uint i = tid * 4;
  if (i >= p.n) {
    return;
  }
  const bool whole = p.vec4 != 0 && i + 4 <= p.n;
  if (p.fused == 0) {
    const float4 y = apply4<Silu>(load4(gate, i, p.n, whole)) * load4(up, i, p.n, whole);
    store4(out, i, p.n, whole, y);
    return;
  }
  if (whole) {  // width % 4 == 0: the 4 outputs lie in one row
    const uint g = i + (i / p.width) * p.width;
    // (the bound n of load4 is unused by a vector load)
    const float4 y = apply4<Silu>(load4(gate, g, 0, true)) * load4(gate, g + p.width, 0, true);
    store4(out, i, p.n, true, y);
    return;
  }
  for (uint k = i; k < min(i + 4, p.n); k++) {
    const uint g = k + (k / p.width) * p.width;
    out[k] = T(Silu()(float(gate[g])) * float(gate[g + p.width]));
  }
}

#define METALLIC_ACTIVATION_KERNELS(T, tname)                                                     \
  template [[host_name("silu_" tname)]] [[kernel]] decltype(activation_unary<T, Silu>)           \
      activation_unary<T, Silu>;                                                                  \
  template [[host_name("gelu_erf_" tname)]] [[kernel]] decltype(activation_unary<T, GeluErf>)    \
      activation_unary<T, GeluErf>;                                                               \
  template [[host_name("gelu_tanh_" tname)]] [[kernel]] decltype(activation_unary<T, GeluTanh>)  \
      activation_unary<T, GeluTanh>;                                                              \
  template [[host_name("swiglu_" tname)]] [[kernel]] decltype(swiglu<T>) swiglu<T>;

METALLIC_ACTIVATION_KERNELS(float, "f32")
METALLIC_ACTIVATION_KERNELS(half, "f16")
METALLIC_ACTIVATION_KERNELS(bfloat, "bf16")
