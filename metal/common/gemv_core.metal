// GEMV core: out[m, n] = alpha * sum_k x[m, k] * W(n, k) for a few activation rows (decode: M = 1
// to 8), with W in one of several formats (Q8_0, Q4_0, dense N x K, dense K x N). Threading: one
// thread per output column n and block of kGemvRows rows; no barriers or SIMD collectives.
// Traffic: every weight byte is read once (the minimum); the rows of x (M x K, small) are re-read
// by every thread from cache; out is written once.
#include "common/gguf_blocks.h"
#include "matmul_q8_gemv/params.h"

constant constexpr uint kGemvRows = 8;    // activation rows per thread
constant constexpr uint kGemvBlock = 32;  // elements of W per step (a quantization block)

// One step of W(n, k0 ..): `count` values (32, fewer at the end of a dense row) times `scale`.
struct WeightBlock {
  float scale;
  uint count;
};

// Weight formats: block(w, p, n, k0, out) writes W(n, k0 .. k0 + 32) / scale into out (quantized
// formats: the integer levels, so the scale multiplies the block's dot product once; the caller
// guarantees k0 + 32 <= K for them; dense formats stop at K with scale 1).
struct WeightsQ8_0 {
  static WeightBlock block(device const uchar* w, constant GemvParams& p, uint n, uint k0,
                           thread float* out) {
    device const BlockQ8_0& blk =
        ((device const BlockQ8_0*)w)[n * (p.k / kGemvBlock) + k0 / kGemvBlock];
    for (uint i = 0; i < kGemvBlock; ++i) {
      out[i] = float(blk.qs[i]);
    }
    return {float(blk.d), kGemvBlock};
  }
};

struct WeightsQ4_0 {
  static WeightBlock block(device const uchar* w, constant GemvParams& p, uint n, uint k0,
                           thread float* out) {
    device const BlockQ4_0& blk =
        ((device const BlockQ4_0*)w)[n * (p.k / kGemvBlock) + k0 / kGemvBlock];
    for (uint i = 0; i < kGemvBlock / 2; ++i) {
      out[i] = float(int(blk.qs[i] & 15) - 8);
      out[i + kGemvBlock / 2] = float(int(blk.qs[i] >> 4) - 8);
    }
    return {float(blk.d), kGemvBlock};
  }
};

// Dense W stored N x K (a Linear weight; matmul's transpose_b).
template <typename T>
struct WeightsRows {
  static WeightBlock block(device const uchar* w, constant GemvParams& p, uint n, uint k0,
                           thread float* out) {
    device const T* row = (device const T*)w + n * p.k + k0;
    const uint count = min(kGemvBlock, p.k - k0);
    for (uint i = 0; i < count; ++i) {
      out[i] = float(row[i]);
    }
    return {1.0f, count};
  }
};

// Dense W stored K x N (matmul's b without transpose): neighbouring threads read neighbouring n.
template <typename T>
struct WeightsCols {
  static WeightBlock block(device const uchar* w, constant GemvParams& p, uint n, uint k0,
                           thread float* out) {
    device const T* col = (device const T*)w + k0 * p.n + n;
    const uint count = min(kGemvBlock, p.k - k0);
    for (uint i = 0; i < count; ++i) {
      out[i] = float(col[i * p.n]);
    }
    return {1.0f, count};
  }
};

// The rows m0 .. m0 + kGemvRows (clipped to M) of out's column n.
template <typename Weights, typename T>
inline void gemv_column(device const uchar* w, device const T* x, device T* out,
                        constant GemvParams& p, uint n, uint m0) {
  if (n >= p.n || m0 >= p.m) {
    return;
  }
  const uint rows = min(kGemvRows, p.m - m0);
  // Four partial sums per row: independent chains (float4 lanes on a GPU, SIMD on a CPU).
  float acc[kGemvRows][4] = {};
  float wv[kGemvBlock];
  for (uint k0 = 0; k0 < p.k; k0 += kGemvBlock) {
    const WeightBlock blk = Weights::block(w, p, n, k0, wv);
    for (uint r = 0; r < rows; ++r) {
      device const T* xr = x + (m0 + r) * p.k + k0;
      float dot[4] = {};
      if (blk.count == kGemvBlock) {
        for (uint i = 0; i < kGemvBlock; i += 4) {
          for (uint j = 0; j < 4; ++j) {
            dot[j] += wv[i + j] * float(xr[i + j]);
          }
        }
      } else {  // the last, partial block of a dense weight
        for (uint i = 0; i < blk.count; ++i) {
          dot[0] += wv[i] * float(xr[i]);
        }
      }
      for (uint j = 0; j < 4; ++j) {
        acc[r][j] += blk.scale * dot[j];
      }
    }
  }
  for (uint r = 0; r < rows; ++r) {
    const float sum = (acc[r][0] + acc[r][1]) + (acc[r][2] + acc[r][3]);
    out[(m0 + r) * p.n + n] = T(p.alpha * sum);
  }
}
