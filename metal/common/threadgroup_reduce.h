// Reductions of one float per thread over a whole threadgroup, returned to every thread: a SIMD
// group reduction, then (when there are several SIMD groups) one barrier and a read of the
// per-SIMD-group partials from threadgroup memory. `partials` holds 32 floats; a kernel that
// reduces twice passes a different array the second time, so no second barrier is needed.
#pragma once

#include <metal_stdlib>
using namespace metal;

// The two reductions, as the SIMD-group collective and the combine of two partials.
struct ThreadgroupSum {
  static float simd(float v) { return simd_sum(v); }
  static float combine(float a, float b) { return a + b; }
};
struct ThreadgroupMax {
  static float simd(float v) { return simd_max(v); }
  static float combine(float a, float b) { return max(a, b); }
};

template <typename R>
inline float threadgroup_reduce(float v, threadgroup float* partials, uint lane, uint simd_group,
                                uint simd_groups) {
  v = R::simd(v);
  if (simd_groups == 1) {
    return v;
  }
  if (lane == 0) {
    partials[simd_group] = v;
  }
  threadgroup_barrier(mem_flags::mem_threadgroup);
  float total = partials[0];
  for (uint g = 1; g < simd_groups; g++) {
    total = R::combine(total, partials[g]);
  }
  return total;
}

inline float threadgroup_sum(float v, threadgroup float* partials, uint lane, uint simd_group,
                             uint simd_groups) {
  return threadgroup_reduce<ThreadgroupSum>(v, partials, lane, simd_group, simd_groups);
}

inline float threadgroup_max(float v, threadgroup float* partials, uint lane, uint simd_group,
                             uint simd_groups) {
  return threadgroup_reduce<ThreadgroupMax>(v, partials, lane, simd_group, simd_groups);
}
