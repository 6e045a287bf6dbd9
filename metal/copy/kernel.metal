// Threading: copy_v: one thread per 4 contiguous elements (vector load and store); copy_g: x over groups of 4 along the innermost dimension, y over the outer rows; copy_t (transposes): one thread per 4x4 tile, x along the source-contiguous axis, y along the destination-contiguous one.
// Traffic: each element is read once and written once (the minimum); copy_t keeps both sides' accesses contiguous per threadgroup, copy_g's strided side is not coalesced.
#include <metal_stdlib>
#include "common/strided.h"
#include "copy/cast.h"
#include "copy/params.h"
using namespace metal;

// dst[i] = src[i], both contiguous and 4-element aligned.
template <typename Tin, typename Tout>
[[kernel]] void copy_v(device const Tin* src [[buffer(0)]], device Tout* dst [[buffer(1)]],
                       constant CopyParams& p [[buffer(2)]], uint i [[thread_position_in_grid]]) {
  const uint base = i * 4;
  if (base + 4 <= p.n) {
    const vec<Tin, 4> x = *((device const vec<Tin, 4>*)(src + base));
    vec<Tout, 4> y;
    for (uint k = 0; k < 4; ++k) {
      y[k] = CastOp<Tout, Tin>()(x[k]);
    }
    *((device vec<Tout, 4>*)(dst + base)) = y;
  } else {
    for (uint k = base; k < p.n; ++k) {
      dst[k] = CastOp<Tout, Tin>()(src[k]);
    }
  }
}

// dst[view] = src[view] for two strided layouts of one shape (rows x inner after merging dims).
template <typename Tin, typename Tout>
[[kernel]] void copy_g(device const Tin* src [[buffer(0)]], device Tout* dst [[buffer(1)]],
                       constant CopyParams& p [[buffer(2)]],
                       uint2 pos [[thread_position_in_grid]]) {
  const uint j0 = pos.x * 4;
  if (j0 >= p.inner || pos.y >= p.n / p.inner) {
    return;
  }
  const uint2 base = uint2(p.src_base, p.dst_base) +
                     strided_offsets2(pos.y, p.outer_ndim, p.outer_shape, p.src_outer_strides,
                                      p.dst_outer_strides);
  const uint end = min(j0 + 4, p.inner);
  for (uint j = j0; j < end; ++j) {
    dst[base.y + j * p.dst_inner_stride] = CastOp<Tout, Tin>()(src[base.x + j * p.src_inner_stride]);
  }
}

// A transpose-like copy: the last outer dimension (extent K) is contiguous in src, the innermost
// one in dst. Each thread moves a 4x4 tile: reads along K, writes along the innermost dimension.
template <typename Tin, typename Tout>
[[kernel]] void copy_t(device const Tin* src [[buffer(0)]], device Tout* dst [[buffer(1)]],
                       constant CopyParams& p [[buffer(2)]],
                       uint3 pos [[thread_position_in_grid]]) {
  const uint tile = p.outer_ndim - 1;
  const uint extent = p.outer_shape[tile];
  const uint k0 = pos.x * 4, j0 = pos.y * 4;
  if (k0 >= extent || j0 >= p.inner || pos.z >= p.n / (p.inner * extent)) {
    return;
  }
  const uint2 base = uint2(p.src_base, p.dst_base) +
                     strided_offsets2(pos.z, tile, p.outer_shape, p.src_outer_strides,
                                      p.dst_outer_strides);
  const uint k_count = min(4u, extent - k0), j_count = min(4u, p.inner - j0);
  const uint src_k = p.src_outer_strides[tile], dst_k = p.dst_outer_strides[tile];
  Tout values[4][4];
  for (uint j = 0; j < j_count; ++j) {
    for (uint k = 0; k < k_count; ++k) {
      values[k][j] = CastOp<Tout, Tin>()(
          src[base.x + (k0 + k) * src_k + (j0 + j) * p.src_inner_stride]);
    }
  }
  for (uint k = 0; k < k_count; ++k) {
    for (uint j = 0; j < j_count; ++j) {
      dst[base.y + (k0 + k) * dst_k + (j0 + j) * p.dst_inner_stride] = values[k][j];
    }
  }
}

#define METALLIC_COPY_PAIR(src_name, Tin, dst_name, Tout)                                 \
  template [[host_name("copy_v_" #src_name "_" #dst_name)]] [[kernel]] decltype(         \
      copy_v<Tin, Tout>) copy_v<Tin, Tout>;                                              \
  template [[host_name("copy_g_" #src_name "_" #dst_name)]] [[kernel]] decltype(         \
      copy_g<Tin, Tout>) copy_g<Tin, Tout>;                                              \
  template [[host_name("copy_t_" #src_name "_" #dst_name)]] [[kernel]] decltype(         \
      copy_t<Tin, Tout>) copy_t<Tin, Tout>;
#define METALLIC_COPY_FROM(src_name, Tin)              \
  METALLIC_COPY_PAIR(src_name, Tin, f32, float)       \
  METALLIC_COPY_PAIR(src_name, Tin, f16, half)        \
  METALLIC_COPY_PAIR(src_name, Tin, bf16, bfloat)     \
  METALLIC_COPY_PAIR(src_name, Tin, i32, int)         \
  METALLIC_COPY_PAIR(src_name, Tin, u32, uint)        \
  METALLIC_COPY_PAIR(src_name, Tin, i8, char)         \
  METALLIC_COPY_PAIR(src_name, Tin, u8, uchar)

METALLIC_COPY_FROM(f32, float)
METALLIC_COPY_FROM(f16, half)
METALLIC_COPY_FROM(bf16, bfloat)
METALLIC_COPY_FROM(i32, int)
METALLIC_COPY_FROM(u32, uint)
METALLIC_COPY_FROM(i8, char)
METALLIC_COPY_FROM(u8, uchar)
