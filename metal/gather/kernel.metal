// Threads: rows16: 8 per gathered row (1 on the host device, chosen by the host code); otherwise one per 4-element run of a row.
// Traffic: the minimum (each gathered row read once, out written once; indices re-read from cache).
#include <metal_stdlib>
#include "gather/params.h"
using namespace metal;

// The row an index selects, negative indices counting from the end (as numpy's take); n for an
// index out of range.
inline uint gather_row(int idx, uint n) {
  return idx >= int(n) || idx < -int(n) ? n : uint(idx < 0 ? idx + int(n) : idx);
}
inline uint gather_row(uint idx, uint n) { return idx >= n ? n : idx; }

// out[o, k, c] = x[o, idx[k], c]; thread (x, y) handles y = o * count + k, columns 4x .. 4x+3.
template <typename T, typename I>
[[kernel]] void gather(device const T* x [[buffer(0)]], device const I* indices [[buffer(1)]],
                       device T* out [[buffer(2)]], constant GatherParams& p [[buffer(3)]],
                       uint2 pos [[thread_position_in_grid]]) {
  const uint start = pos.x * 4;
  if (start >= p.inner) {
    return;
  }
  const uint o = pos.y / p.count, k = pos.y % p.count;
  const uint row = gather_row(indices[k], p.n);
  // Out of range: read element x_numel, just past x, which the host device's checks report
  // (METALLIC_HOST_CHECKS=1); unchecked, the value is unspecified.
  const bool past = row >= p.n;
  device const T* src = x + (past ? p.x_numel : (o * p.n + row) * p.inner);
  device T* dst = out + pos.y * p.inner;
  const uint end = min(start + 4, p.inner);
  for (uint c = start; c < end; ++c) {
    dst[c] = src[past ? 0 : c];
  }
}

// rows16: rows of a multiple of 16 bytes, 16-byte aligned, copied as uint4 whatever the element
// type (x, out and GatherParams counted in uint4); a row of threads (grid x) per output row.
template <typename I>
[[kernel]] void gather_rows16(device const uint4* x [[buffer(0)]],
                              device const I* indices [[buffer(1)]], device uint4* out [[buffer(2)]],
                              constant GatherParams& p [[buffer(3)]],
                              uint2 pos [[thread_position_in_grid]],
                              uint2 grid [[threads_per_grid]]) {
  const uint o = pos.y / p.count, k = pos.y % p.count;
  const uint row = gather_row(indices[k], p.n);
  const bool past = row >= p.n;  // read just past x, as above
  device const uint4* src = x + (past ? p.x_numel : (o * p.n + row) * p.inner);
  device uint4* dst = out + pos.y * p.inner;
  for (uint c = pos.x; c < p.inner; c += grid.x) {
    dst[c] = src[past ? 0 : c];
  }
}

template [[host_name("gather_rows16_i32")]] [[kernel]] decltype(gather_rows16<int>)
    gather_rows16<int>;
template [[host_name("gather_rows16_u32")]] [[kernel]] decltype(gather_rows16<uint>)
    gather_rows16<uint>;

#define METALLIC_GATHER_INSTANCE(T, tname, I, iname)                                 \
  template [[host_name("gather_" #iname "_" #tname)]] [[kernel]] decltype(gather<T, I>) \
      gather<T, I>;
#define METALLIC_GATHER_TYPES(I, iname)            \
  METALLIC_GATHER_INSTANCE(float, f32, I, iname)   \
  METALLIC_GATHER_INSTANCE(half, f16, I, iname)    \
  METALLIC_GATHER_INSTANCE(bfloat, bf16, I, iname) \
  METALLIC_GATHER_INSTANCE(int, i32, I, iname)     \
  METALLIC_GATHER_INSTANCE(uint, u32, I, iname)

METALLIC_GATHER_TYPES(int, i32)
METALLIC_GATHER_TYPES(uint, u32)
