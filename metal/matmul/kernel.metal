// GEMM: C = alpha * op(A) @ op(B) + beta * C_in per batch entry. Threadgroups of 4 SIMD groups own
// a 32x32 tile of C, each SIMD group a 16x16 quarter as 2x2 simdgroup_matrix accumulators (f32).
// Traffic: K advances 16 at a time through f32 threadgroup tiles of A (32x16) and B (16x32) with
// zero padding at the edges, so A is read N/32 times and B M/32 times (minimum: once each); C is
// written once (C_in read once when beta != 0).
#include <metal_stdlib>
#include "matmul/params.h"
using namespace metal;

constant constexpr uint kTileM = 32, kTileN = 32, kTileK = 16, kThreads = 128;

// Stages op(A)[row0 .., k0 ..] into tile (kTileM x kTileK, row-major); consecutive threads read
// consecutive addresses in either storage order.
template <typename T>
inline void stage_a(device const T* a, constant MatmulParams& p, uint row0, uint k0,
                    threadgroup float* tile, uint lid) {
  for (uint i = lid; i < kTileM * kTileK; i += kThreads) {
    const uint r = p.transpose_a ? i % kTileM : i / kTileK;
    const uint kk = p.transpose_a ? i / kTileM : i % kTileK;
    const uint gr = row0 + r, gk = k0 + kk;
    float v = 0.0f;
    if (gr < p.m && gk < p.k) {
      v = float(p.transpose_a ? a[gk * p.lda + gr] : a[gr * p.lda + gk]);
    }
    tile[r * kTileK + kk] = v;
  }
}

// Stages op(B)[k0 .., col0 ..] into tile (kTileK x kTileN, row-major).
template <typename T>
inline void stage_b(device const T* b, constant MatmulParams& p, uint k0, uint col0,
                    threadgroup float* tile, uint lid) {
  for (uint i = lid; i < kTileK * kTileN; i += kThreads) {
    const uint kk = p.transpose_b ? i % kTileK : i / kTileN;
    const uint c = p.transpose_b ? i / kTileK : i % kTileN;
    const uint gk = k0 + kk, gc = col0 + c;
    float v = 0.0f;
    if (gk < p.k && gc < p.n) {
      v = float(p.transpose_b ? b[gc * p.ldb + gk] : b[gk * p.ldb + gc]);
    }
    tile[kk * kTileN + c] = v;
  }
}

template <typename T>
[[kernel]] void matmul_gemm(device const T* a [[buffer(0)]], device const T* b [[buffer(1)]],
                            device const T* c_in [[buffer(2)]], device T* out [[buffer(3)]],
                            constant MatmulParams& p [[buffer(4)]],
                            uint3 group [[threadgroup_position_in_grid]],
                            uint lid [[thread_index_in_threadgroup]],
                            uint sg [[simdgroup_index_in_threadgroup]]) {
  threadgroup float a_tile[kTileM * kTileK];
  threadgroup float b_tile[kTileK * kTileN];
  threadgroup float c_tile[kTileM * kTileN];
  const uint row0 = group.y * kTileM, col0 = group.x * kTileN;
  a += (group.z % p.a_batches) * p.a_batch_stride;
  b += (group.z % p.b_batches) * p.b_batch_stride;
  const uint sg_row = (sg / 2) * 16, sg_col = (sg % 2) * 16;

  simdgroup_float8x8 acc[2][2];
  for (uint i = 0; i < 2; ++i) {
    for (uint j = 0; j < 2; ++j) {
      acc[i][j] = make_filled_simdgroup_matrix<float, 8, 8>(0.0f);
    }
  }
  for (uint k0 = 0; k0 < p.k; k0 += kTileK) {
    stage_a(a, p, row0, k0, a_tile, lid);
    stage_b(b, p, k0, col0, b_tile, lid);
    threadgroup_barrier(mem_flags::mem_threadgroup);
    for (uint kk = 0; kk < kTileK; kk += 8) {
      simdgroup_float8x8 am[2], bm[2];
      for (uint i = 0; i < 2; ++i) {
        simdgroup_load(am[i], a_tile, kTileK, ulong2(kk, sg_row + 8 * i));
        simdgroup_load(bm[i], b_tile, kTileN, ulong2(sg_col + 8 * i, kk));
      }
      for (uint i = 0; i < 2; ++i) {
        for (uint j = 0; j < 2; ++j) {
          simdgroup_multiply_accumulate(acc[i][j], am[i], bm[j], acc[i][j]);
        }
      }
    }
    threadgroup_barrier(mem_flags::mem_threadgroup);
  }
  // Through threadgroup memory, so edge tiles store only their valid elements.
  for (uint i = 0; i < 2; ++i) {
    for (uint j = 0; j < 2; ++j) {
      simdgroup_store(acc[i][j], c_tile, kTileN, ulong2(sg_col + 8 * j, sg_row + 8 * i));
    }
  }
  threadgroup_barrier(mem_flags::mem_threadgroup);
  const uint c_base = group.z * p.c_batch_stride;
  for (uint i = lid; i < kTileM * kTileN; i += kThreads) {
    const uint r = row0 + i / kTileN, c = col0 + i % kTileN;
    if (r < p.m && c < p.n) {
      const uint at = c_base + r * p.ldc + c;
      float v = p.alpha * c_tile[i];
      if (p.beta != 0.0f) {
        v += p.beta * float(c_in[at]);
      }
      out[at] = T(v);
    }
  }
}

template [[host_name("matmul_gemm_f32")]] [[kernel]] decltype(matmul_gemm<float>) matmul_gemm<float>;
template [[host_name("matmul_gemm_f16")]] [[kernel]] decltype(matmul_gemm<half>) matmul_gemm<half>;
template [[host_name("matmul_gemm_bf16")]] [[kernel]] decltype(matmul_gemm<bfloat>)
    matmul_gemm<bfloat>;
