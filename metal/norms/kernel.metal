// Threading: norm_row: a threadgroup per row (on the host device several rows in turn) of 32..1024
// threads, ~32 elements each, float4/half4 accesses when aligned, f32 sums joined by SIMD-group
// reductions and threadgroup memory; norm_thread_row (the host device's `row` backend): a thread
// per row. Traffic: x (and residual) read once, out (and the sum) written once: the minimum; the
// later passes over a row re-read it from cache.
#include <metal_stdlib>
#include "common/threadgroup_reduce.h"
#include "common/vec4_io.h"
#include "norms/params.h"
using namespace metal;

// rms_norm: out = x / sqrt(mean(x^2) + eps) * weight. layer_norm: out = (x - mean) /
// sqrt(var + eps) * weight + bias (two passes for the variance: no cancellation). With kResidual
// the input is x + residual, rounded to T and stored to sum_out as the model's residual stream.
// How norm_one_row joins its threads' partial sums. The GPU layout: over the threadgroup.
struct ThreadgroupReduce {
  uint lane, simd_group, simd_groups;
  threadgroup float* partials;
  threadgroup float* partials_var;
  float sum(float v) const { return threadgroup_sum(v, partials, lane, simd_group, simd_groups); }
  float sum_var(float v) const {
    return threadgroup_sum(v, partials_var, lane, simd_group, simd_groups);
  }
};
// The host device's row backend: one thread owns the row, nothing to join (and no collective, so
// the host runs the kernel as a plain loop rather than a fiber per GPU thread).
struct ThreadReduce {
  float sum(float v) const { return v; }
  float sum_var(float v) const { return v; }
};

template <typename T, bool kLayer, bool kResidual, typename Reduce>
inline void norm_one_row(device const T* x, device const T* residual, device const T* weight,
                         device const T* bias, device T* out, device T* sum_out,
                         constant NormParams& p, uint row, uint tid, uint threads,
                         Reduce reduce) {
  const uint n = p.n;
  const bool whole = p.vec4 != 0;
  const ulong base = ulong(row) * n;
  const uint step = threads * 4;
  device const T* src = x + base;
  out += base;

  // layer_norm sums x - shift, with shift the row's first element: a sum of values near 0 stays
  // accurate where one of values with a large mean would not (the "shifted data" algorithm).
  const float shift =
      !kLayer ? 0.0f
              : (kResidual ? float(T(float(src[0]) + float(residual[base]))) : float(src[0]));
  float acc = 0.0f;  // sum of x - shift (layer_norm) or of x^2 (rms_norm) over this thread's part
  if (kResidual) {
    device T* sum_row = sum_out + base;
    for (uint i = tid * 4; i < n; i += step) {
      const float4 s = float4(vec<T, 4>(load4(src, i, n, whole) + load4(residual + base, i, n, whole)));
      store4(sum_row, i, n, whole, s);
      acc += kLayer ? dot((s - shift) * in_range4(i, n), float4(1.0f)) : dot(s, s);
    }
    src = sum_row;  // this thread re-reads only what it wrote itself
  } else {
    for (uint i = tid * 4; i < n; i += step) {
      const float4 v = load4(src, i, n, whole);
      acc += kLayer ? dot((v - shift) * in_range4(i, n), float4(1.0f)) : dot(v, v);
    }
  }
  const float total = reduce.sum(acc);

  if (!kLayer) {
    const float inv_rms = 1.0f / sqrt(total / float(n) + p.eps);
    for (uint i = tid * 4; i < n; i += step) {
      store4(out, i, n, whole, load4(src, i, n, whole) * inv_rms * load4(weight, i, n, whole));
    }
    return;
  }
  const float mean = shift + total / float(n);
  float sq = 0.0f;
  for (uint i = tid * 4; i < n; i += step) {
    const float4 d = (load4(src, i, n, whole) - mean) * in_range4(i, n);
    sq += dot(d, d);
  }
  const float var = reduce.sum_var(sq) / float(n);
  const float inv_std = 1.0f / sqrt(var + p.eps);
  for (uint i = tid * 4; i < n; i += step) {
    const float4 y = (load4(src, i, n, whole) - mean) * inv_std * load4(weight, i, n, whole) +
                     load4(bias, i, n, whole);
    store4(out, i, n, whole, y);
  }
}

template <typename T, bool kLayer, bool kResidual>
kernel void norm_row(device const T* x [[buffer(0)]], device const T* residual [[buffer(1)]],
                     device const T* weight [[buffer(2)]], device const T* bias [[buffer(3)]],
                     device T* out [[buffer(4)]], device T* sum_out [[buffer(5)]],
                     constant NormParams& p [[buffer(6)]],
                     uint group [[threadgroup_position_in_grid]],
                     uint tid [[thread_position_in_threadgroup]],
                     uint threads [[threads_per_threadgroup]],
                     uint lane [[thread_index_in_simdgroup]],
                     uint simd_group [[simdgroup_index_in_threadgroup]],
                     uint simd_groups [[simdgroups_per_threadgroup]]) {
  threadgroup float partials[32];
  threadgroup float partials_var[32];
  const uint first = group * p.rows_per_group;
  const uint end = min(p.rows, first + p.rows_per_group);
  for (uint row = first; row < end; row++) {
    const ThreadgroupReduce reduce{lane, simd_group, simd_groups, partials, partials_var};
    norm_one_row<T, kLayer, kResidual>(x, residual, weight, bias, out, sum_out, p, row, tid,
                                       threads, reduce);
    if (simd_groups > 1) {
      threadgroup_barrier(mem_flags::mem_threadgroup);  // partials are reused by the next row
    }
  }
}

template <typename T, bool kLayer, bool kResidual>
kernel void norm_thread_row(device const T* x [[buffer(0)]], device const T* residual [[buffer(1)]],
                            device const T* weight [[buffer(2)]], device const T* bias [[buffer(3)]],
                            device T* out [[buffer(4)]], device T* sum_out [[buffer(5)]],
                            constant NormParams& p [[buffer(6)]],
                            uint row [[thread_position_in_grid]]) {
  if (row < p.rows) {
    norm_one_row<T, kLayer, kResidual>(x, residual, weight, bias, out, sum_out, p, row, 0, 1,
                                       ThreadReduce());
  }
}

#define METALLIC_NORM_KERNELS(T, tname)                                                          \
  template [[host_name("rms_norm_" tname)]] [[kernel]] decltype(norm_row<T, false, false>)      \
      norm_row<T, false, false>;                                                                 \
  template [[host_name("rms_norm_add_" tname)]] [[kernel]] decltype(norm_row<T, false, true>)   \
      norm_row<T, false, true>;                                                                  \
  template [[host_name("layer_norm_" tname)]] [[kernel]] decltype(norm_row<T, true, false>)     \
      norm_row<T, true, false>;                                                                  \
  template [[host_name("layer_norm_add_" tname)]] [[kernel]] decltype(norm_row<T, true, true>)  \
      norm_row<T, true, true>;                                                                   \
  template [[host_name("rms_norm_row_" tname)]] [[kernel]]                                       \
  decltype(norm_thread_row<T, false, false>) norm_thread_row<T, false, false>;                   \
  template [[host_name("rms_norm_add_row_" tname)]] [[kernel]]                                   \
  decltype(norm_thread_row<T, false, true>) norm_thread_row<T, false, true>;                     \
  template [[host_name("layer_norm_row_" tname)]] [[kernel]]                                     \
  decltype(norm_thread_row<T, true, false>) norm_thread_row<T, true, false>;                     \
  template [[host_name("layer_norm_add_row_" tname)]] [[kernel]]                                 \
  decltype(norm_thread_row<T, true, true>) norm_thread_row<T, true, true>;

METALLIC_NORM_KERNELS(float, "f32")
METALLIC_NORM_KERNELS(half, "f16")
METALLIC_NORM_KERNELS(bfloat, "bf16")
