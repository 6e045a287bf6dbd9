// Threads: a SIMD group per output or chunk of one (rows/partial/finish); a thread per output (strided).
// Traffic: the minimum (x read once, out written once); partial+finish add 8 bytes per chunk of x.
#include <metal_stdlib>
#include "common/strided.h"
#include "reduce/params.h"
using namespace metal;

// Element offset of output `m` (its first reduced element) in x.
inline uint kept_offset(constant ReduceParams& p, uint m) {
  return p.base + strided_offset(m, p.kept_ndim, p.kept_shape, p.kept_strides);
}

// Offset, from an output's first element, of row `o` of its reduced elements (row-major over the
// reduced dimensions but the last).
inline uint reduced_row_offset(constant ReduceParams& p, uint o) {
  return strided_offset(o, p.red_ndim - 1, p.red_shape, p.red_strides);
}

inline float lowest(float) { return -INFINITY; }
inline int lowest(int) { return INT_MIN; }
inline uint lowest(uint) { return 0; }
inline float highest(float) { return INFINITY; }
inline int highest(int) { return INT_MAX; }
inline uint highest(uint) { return UINT_MAX; }
inline float quiet_nan(float) { return NAN; }
inline int quiet_nan(int v) { return v; }  // integers have no NaN: never reached
inline uint quiet_nan(uint v) { return v; }

// A reduction in accumulator type A: identity, combine, the SIMD-group combine, and the result
// from the accumulated value and the number of elements reduced.
template <typename A>
struct SumR {
  static A identity() { return A(0); }
  static A combine(A a, A b) { return a + b; }
  static A simd(A a) { return simd_sum(a); }
  static A result(A a, uint) { return a; }
};
template <typename A>
struct MeanR {
  static A identity() { return A(0); }
  static A combine(A a, A b) { return a + b; }
  static A simd(A a) { return simd_sum(a); }
  static A result(A a, uint n) { return a / A(n); }
};
// max and min propagate NaN (as numpy): a NaN wins every comparison.
template <typename A>
struct MaxR {
  static A identity() { return lowest(A(0)); }
  static A combine(A a, A b) { return (a >= b || a != a) ? a : b; }
  static A simd(A a) {
    const A m = simd_max(a);
    return simd_any(a != a) ? quiet_nan(m) : m;
  }
  static A result(A a, uint) { return a; }
  // Whether v replaces the best so far (argmax: the first maximum, or the first NaN).
  static bool better(A v, A best) { return v > best || (v != v && best == best); }
  static A simd_best(A a) { return simd_max(a); }
};
template <typename A>
struct MinR {
  static A identity() { return highest(A(0)); }
  static A combine(A a, A b) { return (a <= b || a != a) ? a : b; }
  static A simd(A a) {
    const A m = simd_min(a);
    return simd_any(a != a) ? quiet_nan(m) : m;
  }
  static A result(A a, uint) { return a; }
  static bool better(A v, A best) { return v < best || (v != v && best == best); }
  static A simd_best(A a) { return simd_min(a); }
};

// Lane `lane` of a SIMD group folds x[i] for i in [begin, end) into acc, 4 consecutive elements
// per lane per step (so the group reads 4 * 32 consecutive elements per step), into 4
// independent accumulators (no chain of dependent adds).
template <typename T, typename A, typename R>
inline A fold_contiguous(device const T* x, uint begin, uint end, uint lane, A acc) {
  A acc1 = R::identity(), acc2 = R::identity(), acc3 = R::identity();
  uint i = begin + 4 * lane;
  for (; i + 3 < end; i += 4 * METALLIC_REDUCE_SIMD) {
    acc = R::combine(acc, A(x[i]));
    acc1 = R::combine(acc1, A(x[i + 1]));
    acc2 = R::combine(acc2, A(x[i + 2]));
    acc3 = R::combine(acc3, A(x[i + 3]));
  }
  for (uint k = 0; k < 4 && i + k < end; ++k) {
    acc = R::combine(acc, A(x[i + k]));
  }
  return R::combine(R::combine(acc, acc1), R::combine(acc2, acc3));
}

// The best value and its index (the first, on ties) seen by one lane or SIMD group.
template <typename A>
struct ArgState {
  A value;
  uint index;  // UINT_MAX: nothing seen yet
};

template <typename A, typename R>
inline void arg_update(thread ArgState<A>& s, A v, uint i) {
  if (s.index == UINT_MAX || R::better(v, s.value)) {
    s.value = v;
    s.index = i;
  }
}

// As fold_contiguous, keeping the best element and its index in x.
template <typename T, typename A, typename R>
inline void arg_fold_contiguous(device const T* x, uint begin, uint end, uint lane,
                                thread ArgState<A>& s) {
  for (uint i = begin + 4 * lane; i < end; i += 4 * METALLIC_REDUCE_SIMD) {
    for (uint k = 0; k < 4 && i + k < end; ++k) {
      arg_update<A, R>(s, A(x[i + k]), i + k);
    }
  }
}

// Combines the lanes' states: the best value, and the smallest index holding it.
template <typename A, typename R>
inline ArgState<A> arg_simd(ArgState<A> s) {
  const bool any_nan = simd_any(s.index != UINT_MAX && s.value != s.value);
  const bool seen = s.index != UINT_MAX;
  const A best = R::simd_best(seen ? s.value : R::identity());
  const bool match = seen && (any_nan ? s.value != s.value : s.value == best);
  ArgState<A> out;
  out.index = simd_min(match ? s.index : UINT_MAX);
  out.value = any_nan ? quiet_nan(best) : best;
  return out;
}

// rows: the reduced elements of each output are contiguous; one SIMD group per output, for
// group_rows outputs in turn (so many rows cost fewer, longer-lived threads).
template <typename T, typename A, typename R>
[[kernel]] void reduce_rows(device const T* x [[buffer(0)]], device T* out [[buffer(1)]],
                            constant ReduceParams& p [[buffer(2)]],
                            uint group [[threadgroup_position_in_grid]],
                            uint lane [[thread_index_in_simdgroup]]) {
  const uint end = min((group + 1) * p.group_rows, p.outputs);
  for (uint m = group * p.group_rows; m < end; ++m) {
    const A acc = R::simd(fold_contiguous<T, A, R>(x + kept_offset(p, m), 0, p.red_n, lane,
                                                   R::identity()));
    if (lane == 0) {
      out[m] = T(R::result(acc, p.red_n));
    }
  }
}

// partial: threadgroup (c, m) reduces chunk c of output m's contiguous elements into
// partials[m * chunks + c]; finish then reduces each output's partials.
template <typename T, typename A, typename R>
[[kernel]] void reduce_partial(device const T* x [[buffer(0)]], device A* partials [[buffer(1)]],
                               constant ReduceParams& p [[buffer(2)]],
                               uint2 tg [[threadgroup_position_in_grid]],
                               uint lane [[thread_index_in_simdgroup]]) {
  const uint begin = tg.x * p.chunk, end = min(begin + p.chunk, p.red_n);
  const A acc = R::simd(fold_contiguous<T, A, R>(x + kept_offset(p, tg.y), begin, end, lane,
                                                 R::identity()));
  if (lane == 0) {
    partials[tg.y * p.chunks + tg.x] = acc;
  }
}

template <typename T, typename A, typename R>
[[kernel]] void reduce_finish(device const A* partials [[buffer(0)]], device T* out [[buffer(1)]],
                              constant ReduceParams& p [[buffer(2)]],
                              uint m [[threadgroup_position_in_grid]],
                              uint lane [[thread_index_in_simdgroup]]) {
  const A acc = R::simd(fold_contiguous<A, A, R>(partials + m * p.chunks, 0, p.chunks, lane,
                                                 R::identity()));
  if (lane == 0) {
    out[m] = T(R::result(acc, p.red_n));
  }
}

// strided: any layout; one thread per output walks its reduced elements.
template <typename T, typename A, typename R>
[[kernel]] void reduce_strided(device const T* x [[buffer(0)]], device T* out [[buffer(1)]],
                               constant ReduceParams& p [[buffer(2)]],
                               uint m [[thread_position_in_grid]]) {
  if (m >= p.outputs) {
    return;
  }
  const uint base = kept_offset(p, m);
  const uint inner = p.red_shape[p.red_ndim - 1], step = p.red_strides[p.red_ndim - 1];
  A acc = R::identity();
  for (uint o = 0; inner > 0 && o < p.red_n / inner; ++o) {  // inner 0: nothing to reduce
    // One unsigned sum per element, so that negative strides wrap (see ReduceParams::base).
    const uint row = base + reduced_row_offset(p, o);
    for (uint j = 0; j < inner; ++j) {
      acc = R::combine(acc, A(x[row + j * step]));
    }
  }
  out[m] = T(R::result(acc, p.red_n));
}

// The argmax/argmin forms: as above, keeping the index of the best element (i32 output).
template <typename T, typename A, typename R>
[[kernel]] void reduce_arg_rows(device const T* x [[buffer(0)]], device int* out [[buffer(1)]],
                                constant ReduceParams& p [[buffer(2)]],
                                uint group [[threadgroup_position_in_grid]],
                                uint lane [[thread_index_in_simdgroup]]) {
  const uint end = min((group + 1) * p.group_rows, p.outputs);
  for (uint m = group * p.group_rows; m < end; ++m) {
    ArgState<A> s = {R::identity(), UINT_MAX};
    arg_fold_contiguous<T, A, R>(x + kept_offset(p, m), 0, p.red_n, lane, s);
    s = arg_simd<A, R>(s);
    if (lane == 0) {
      out[m] = int(s.index);
    }
  }
}

template <typename T, typename A, typename R>
[[kernel]] void reduce_arg_partial(device const T* x [[buffer(0)]],
                                   device A* partials [[buffer(1)]],
                                   device uint* indices [[buffer(3)]],
                                   constant ReduceParams& p [[buffer(2)]],
                                   uint2 tg [[threadgroup_position_in_grid]],
                                   uint lane [[thread_index_in_simdgroup]]) {
  const uint begin = tg.x * p.chunk, end = min(begin + p.chunk, p.red_n);
  ArgState<A> s = {R::identity(), UINT_MAX};
  arg_fold_contiguous<T, A, R>(x + kept_offset(p, tg.y), begin, end, lane, s);
  s = arg_simd<A, R>(s);
  if (lane == 0) {
    partials[tg.y * p.chunks + tg.x] = s.value;
    indices[tg.y * p.chunks + tg.x] = s.index;
  }
}

template <typename T, typename A, typename R>
[[kernel]] void reduce_arg_finish(device const A* partials [[buffer(0)]],
                                  device int* out [[buffer(1)]],
                                  device const uint* indices [[buffer(3)]],
                                  constant ReduceParams& p [[buffer(2)]],
                                  uint m [[threadgroup_position_in_grid]],
                                  uint lane [[thread_index_in_simdgroup]]) {
  ArgState<A> s = {R::identity(), UINT_MAX};
  const uint base = m * p.chunks;
  for (uint c = lane; c < p.chunks; c += METALLIC_REDUCE_SIMD) {  // chunks in index order
    arg_update<A, R>(s, partials[base + c], indices[base + c]);
  }
  s = arg_simd<A, R>(s);
  if (lane == 0) {
    out[m] = int(s.index);
  }
}

template <typename T, typename A, typename R>
[[kernel]] void reduce_arg_strided(device const T* x [[buffer(0)]], device int* out [[buffer(1)]],
                                   constant ReduceParams& p [[buffer(2)]],
                                   uint m [[thread_position_in_grid]]) {
  if (m >= p.outputs) {
    return;
  }
  const uint base = kept_offset(p, m);
  const uint inner = p.red_shape[p.red_ndim - 1], step = p.red_strides[p.red_ndim - 1];
  ArgState<A> s = {R::identity(), UINT_MAX};
  for (uint o = 0; inner > 0 && o < p.red_n / inner; ++o) {  // inner 0: nothing to reduce
    const uint row = base + reduced_row_offset(p, o);  // unsigned, as above
    for (uint j = 0; j < inner; ++j) {
      arg_update<A, R>(s, A(x[row + j * step]), o * inner + j);
    }
  }
  out[m] = int(s.index);
}

// Kernels reduce_<op>_<form>_<dtype> for element type T accumulated in A.
#define METALLIC_REDUCE_INSTANCE(op, R, T, A, tname)                                          \
  template [[host_name("reduce_" #op "_rows_" #tname)]] [[kernel]] decltype(                   \
      reduce_rows<T, A, R<A>>) reduce_rows<T, A, R<A>>;                                         \
  template [[host_name("reduce_" #op "_partial_" #tname)]] [[kernel]] decltype(                \
      reduce_partial<T, A, R<A>>) reduce_partial<T, A, R<A>>;                                   \
  template [[host_name("reduce_" #op "_finish_" #tname)]] [[kernel]] decltype(                 \
      reduce_finish<T, A, R<A>>) reduce_finish<T, A, R<A>>;                                     \
  template [[host_name("reduce_" #op "_strided_" #tname)]] [[kernel]] decltype(                \
      reduce_strided<T, A, R<A>>) reduce_strided<T, A, R<A>>;
#define METALLIC_REDUCE_ARG_INSTANCE(op, R, T, A, tname)                                      \
  template [[host_name("reduce_" #op "_rows_" #tname)]] [[kernel]] decltype(                   \
      reduce_arg_rows<T, A, R<A>>) reduce_arg_rows<T, A, R<A>>;                                 \
  template [[host_name("reduce_" #op "_partial_" #tname)]] [[kernel]] decltype(                \
      reduce_arg_partial<T, A, R<A>>) reduce_arg_partial<T, A, R<A>>;                           \
  template [[host_name("reduce_" #op "_finish_" #tname)]] [[kernel]] decltype(                 \
      reduce_arg_finish<T, A, R<A>>) reduce_arg_finish<T, A, R<A>>;                             \
  template [[host_name("reduce_" #op "_strided_" #tname)]] [[kernel]] decltype(                \
      reduce_arg_strided<T, A, R<A>>) reduce_arg_strided<T, A, R<A>>;
#define METALLIC_REDUCE_FLOATS(INSTANCE, op, R) \
  INSTANCE(op, R, float, float, f32)            \
  INSTANCE(op, R, half, float, f16)             \
  INSTANCE(op, R, bfloat, float, bf16)
#define METALLIC_REDUCE_INTS(INSTANCE, op, R) \
  INSTANCE(op, R, int, int, i32)              \
  INSTANCE(op, R, uint, uint, u32)

METALLIC_REDUCE_FLOATS(METALLIC_REDUCE_INSTANCE, sum, SumR)
METALLIC_REDUCE_FLOATS(METALLIC_REDUCE_INSTANCE, mean, MeanR)
METALLIC_REDUCE_FLOATS(METALLIC_REDUCE_INSTANCE, max, MaxR)
METALLIC_REDUCE_INTS(METALLIC_REDUCE_INSTANCE, max, MaxR)
METALLIC_REDUCE_FLOATS(METALLIC_REDUCE_INSTANCE, min, MinR)
METALLIC_REDUCE_INTS(METALLIC_REDUCE_INSTANCE, min, MinR)
METALLIC_REDUCE_FLOATS(METALLIC_REDUCE_ARG_INSTANCE, argmax, MaxR)
METALLIC_REDUCE_INTS(METALLIC_REDUCE_ARG_INSTANCE, argmax, MaxR)
METALLIC_REDUCE_FLOATS(METALLIC_REDUCE_ARG_INSTANCE, argmin, MinR)
METALLIC_REDUCE_INTS(METALLIC_REDUCE_ARG_INSTANCE, argmin, MinR)
