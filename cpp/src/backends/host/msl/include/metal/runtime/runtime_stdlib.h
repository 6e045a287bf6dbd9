// The part of the emulated metal_stdlib that needs the execution model: threadgroup and SIMD-group
// barriers, SIMD-group and quad-group functions, simdgroup_matrix, and the targets of the
// translator's rewrites of threadgroup variables and function constants.
//
// Included at the end of metal_stdlib (after metal::vec<T, N>, half, bfloat are defined).
// Everything a lane exchanges with its SIMD group goes through ONE primitive,
// metal_host::rt::simd_exchange: each active lane deposits its value, the lanes wait until all
// non-returned lanes of the SIMD group are at the same call site, then every lane reads all
// deposits and computes its own result. Quad-group functions use the same exchange (a quad
// function is executed by the whole SIMD group, as on the GPU) and then look at their 4 lanes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <utility>

#include "metal/runtime/exec.h"
#include "metal/runtime/launch.h"

// The call site of a collective: collective functions are noinline so that this is the return
// address into the (translated) kernel code that called them.
#define MTLH_SITE __builtin_return_address(0)
// Exchange `data` with the SIMD group; the tag (a static of each collective instantiation)
// identifies the collective function and data type.
#define MTLH_EXCHANGE(data, what)                                         \
  __extension__({                                                         \
    static constexpr char mtlh_tag = 0;                                   \
    ::metal_host::detail::exchange((data), MTLH_SITE, &mtlh_tag, (what)); \
  })

namespace metal_host {

/// `threadgroup T name[N][M];` in a kernel body becomes
/// `auto& name = ::metal_host::threadgroup_variable<T[N][M]>(ID);`
template <class T>
inline T& threadgroup_variable(uint32_t id) {
  return *static_cast<T*>(rt::threadgroup_variable(id, sizeof(T), alignof(T)));
}
/// `threadgroup T name[N] = {...};`: init(storage) writes the initial value, once per
/// threadgroup, when the first thread reaches the declaration.
template <class T, class Init>
inline T& threadgroup_variable(uint32_t id, Init init) {
  bool fresh = false;
  void* p = rt::threadgroup_variable(id, sizeof(T), alignof(T), &fresh);
  if (fresh) init(p);
  return *static_cast<T*>(p);
}

/// A use of `constant T name [[function_constant(i)]]` becomes function_constant<T>(i); an
/// undefined constant reads as zero / false.
template <class T>
inline std::remove_cv_t<T> function_constant(uint32_t index) {
  using U = std::remove_cv_t<T>;
  if constexpr (std::is_same_v<U, bool>) {
    return rt::function_constant_int(index) != 0;
  } else if constexpr (std::is_integral_v<U> || std::is_enum_v<U>) {
    return static_cast<U>(rt::function_constant_int(index));
  } else if constexpr (std::is_floating_point_v<U>) {
    return static_cast<U>(rt::function_constant_float(index));
  } else {
    return U(static_cast<float>(rt::function_constant_float(index)));  // half, bfloat
  }
}

/// is_function_constant_defined(name) becomes function_constant_defined(i).
inline bool function_constant_defined(uint32_t index) {
  return rt::function_constant_defined(index);
}

namespace detail {

// Element type of a scalar or vector type (vec<T, N>: decltype(v[0])).
template <class T, class = void>
struct elem_of {
  using type = T;
};
template <class T>
struct elem_of<T, std::void_t<decltype(std::declval<T&>()[0])>> {
  using type = std::remove_cv_t<std::remove_reference_t<decltype(std::declval<T&>()[0])>>;
};
template <class T>
using elem_t = typename elem_of<T>::type;

template <class T>
constexpr void check_exchangeable() {
  static_assert(std::is_trivially_copyable_v<T>,
                "SIMD-group functions need trivially copyable data");
  static_assert(sizeof(T) <= rt::kSlotBytes, "SIMD-group function data too large");
}

template <class T>
inline T lane_value(const rt::Exchange& x, uint32_t lane) {
  T v;
  __builtin_memcpy(static_cast<void*>(&v), x.slots + size_t(lane) * rt::kSlotBytes, sizeof(T));
  return v;
}

inline uint32_t ctz64(uint64_t m) {
  return uint32_t(__builtin_ctzll(m));
}

/// The lanes of the caller's group (W = 32: SIMD group, W = 4: quad group).
template <uint32_t W>
struct Group {
  uint32_t base;  // lane of position 0
  uint32_t pos;   // caller's position in the group
  uint64_t mask;  // active lanes of the group (bits of SIMD lanes)
};
template <uint32_t W>
inline Group<W> group_of(const rt::Exchange& x) {
  if constexpr (W == 32) {
    return {0, x.lane, x.active};
  } else {
    const uint32_t base = x.lane & ~(W - 1);
    return {base, x.lane - base, x.active & (((uint64_t(1) << W) - 1) << base)};
  }
}

/// A result that is the same for every lane of the group: computed by the first lane to read
/// the exchange, copied by the others.
template <class R, class F>
inline R shared_result(const rt::Exchange& x, uint32_t slot_bytes, uint32_t index, F compute) {
  static_assert(std::is_trivially_copyable_v<R>, "shared result must be trivially copyable");
  unsigned char* p = x.cache + size_t(index) * slot_bytes;
  const uint32_t bit = 1u << index;
  if (*x.cache_valid & bit) {
    R r;
    __builtin_memcpy(static_cast<void*>(&r), p, sizeof(R));
    return r;
  }
  const R r = compute();
  __builtin_memcpy(p, static_cast<const void*>(&r), sizeof(R));
  *x.cache_valid |= bit;
  return r;
}

/// `op` over the values of the lanes in `m` (not empty), lowest lane first.
template <class T, class Op>
inline T fold_lanes(const rt::Exchange& x, uint64_t m, Op op) {
  T acc = lane_value<T>(x, ctz64(m));
  for (m &= m - 1; m; m &= m - 1) acc = op(acc, lane_value<T>(x, ctz64(m)));
  return acc;
}

/// Reduction over the active lanes of the caller's group (SIMD group: one result, computed
/// once; quad group: one per quad, 8 cache entries).
template <class T, uint32_t W, class Op>
inline T reduce(const rt::Exchange& x, Op op) {
  const auto whole_group = [&] { return fold_lanes<T>(x, group_of<W>(x).mask, op); };
  if constexpr (W == 32) {
    if constexpr (sizeof(T) <= rt::kCacheBytes)
      return shared_result<T>(x, 0, 0, whole_group);
    else
      return whole_group();
  } else {
    constexpr uint32_t kQuadSlot = rt::kCacheBytes / 8;
    if constexpr (sizeof(T) <= kQuadSlot)
      return shared_result<T>(x, kQuadSlot, x.lane / 4, whole_group);
    else
      return whole_group();
  }
}

template <class T, uint32_t W, class Op>
inline T prefix(const rt::Exchange& x, bool inclusive, T identity, Op op) {
  const uint64_t below = (uint64_t(1) << x.lane) - 1 + (inclusive ? (uint64_t(1) << x.lane) : 0);
  const uint64_t m = group_of<W>(x).mask & below;
  return m ? fold_lanes<T>(x, m, op) : identity;
}

/// The value of lane `src` if it is active, else the caller's own value.
template <class T>
inline T from_lane(const rt::Exchange& x, uint32_t src, const T& own) {
  if (src < 64 && ((x.active >> src) & 1)) return lane_value<T>(x, src);
  return own;
}

/// Component-wise: b's component where take_b(a's, b's), else a's.
template <class T, class TakeB>
inline T choose(const T& a, const T& b, TakeB take_b) {
  using E = elem_t<T>;
  if constexpr (std::is_same_v<E, T>) {
    return take_b(a, b) ? b : a;
  } else {
    T r = a;
    E* pr = reinterpret_cast<E*>(&r);
    const E* pb = reinterpret_cast<const E*>(&b);
    for (size_t i = 0; i < sizeof(T) / sizeof(E); ++i)
      if (take_b(pr[i], pb[i])) pr[i] = pb[i];
    return r;
  }
}
// A NaN component of a is replaced by b's.
template <class T>
inline T emin(const T& a, const T& b) {
  return choose(a, b, [](const auto& x, const auto& y) { return y < x || x != x; });
}
template <class T>
inline T emax(const T& a, const T& b) {
  return choose(a, b, [](const auto& x, const auto& y) { return x < y || x != x; });
}

struct Add {
  template <class T>
  T operator()(const T& a, const T& b) const {
    return T(a + b);
  }
};
struct Mul {
  template <class T>
  T operator()(const T& a, const T& b) const {
    return T(a * b);
  }
};
struct Min {
  template <class T>
  T operator()(const T& a, const T& b) const {
    return emin(a, b);
  }
};
struct Max {
  template <class T>
  T operator()(const T& a, const T& b) const {
    return emax(a, b);
  }
};
// simd_and/or/xor of a floating-point value combine its bits (MLX's bfloat simd_xor calls the
// builtin with a float).
template <class T, class F>
inline T bitwise(const T& a, const T& b, F f) {
  if constexpr (::metal::detail::is_mfloat_v<T>) {
    using Bits = std::conditional_t<sizeof(T) == 2, uint16_t,
                                    std::conditional_t<sizeof(T) == 4, uint32_t, uint64_t>>;
    return __builtin_bit_cast(T, Bits(f(__builtin_bit_cast(Bits, a), __builtin_bit_cast(Bits, b))));
  } else {
    return T(f(a, b));
  }
}
struct And {
  template <class T>
  T operator()(const T& a, const T& b) const {
    return bitwise(a, b, [](const auto& x, const auto& y) { return x & y; });
  }
};
struct Or {
  template <class T>
  T operator()(const T& a, const T& b) const {
    return bitwise(a, b, [](const auto& x, const auto& y) { return x | y; });
  }
};
struct Xor {
  template <class T>
  T operator()(const T& a, const T& b) const {
    return bitwise(a, b, [](const auto& x, const auto& y) { return x ^ y; });
  }
};

template <class T>
inline rt::Exchange exchange(const T& data, const void* site, const void* tag, const char* what) {
  check_exchangeable<T>();
  return rt::simd_exchange(&data, sizeof(T), site, tag, what);
}

template <class T>
struct Pair {
  T data, fill;
};

}  // namespace detail
}  // namespace metal_host

namespace metal {

// ---------------------------------------------------------------------------------------------
// Barriers. mem_flags (any type) only orders memory on the GPU; fibers of one threadgroup run on
// one OS thread, so every write is visible after the switch.

template <class Flags>
inline void threadgroup_barrier(Flags) {
  ::metal_host::rt::threadgroup_barrier(nullptr);
}
template <class Flags>
MTLH_NOINLINE void simdgroup_barrier(Flags) {
  ::metal_host::rt::simd_barrier(MTLH_SITE);
}

// ---------------------------------------------------------------------------------------------
// Votes.

namespace detail {
/// simd_vote / quad_vote: a bit per lane of the group, and which lanes were active.
template <class V, V kAllLanes>
class group_vote {
 public:
  using vote_t = V;
  constexpr group_vote() = default;
  explicit constexpr group_vote(vote_t v) : v_(v), active_(kAllLanes) {}
  constexpr group_vote(vote_t v, vote_t active) : v_(v), active_(active) {}
  explicit constexpr operator vote_t() const { return v_; }
  /// True if every active lane voted true.
  constexpr bool all() const { return (v_ & active_) == active_; }
  constexpr bool any() const { return v_ != 0; }

 private:
  vote_t v_ = 0;
  vote_t active_ = kAllLanes;
};
}  // namespace detail

using simd_vote = detail::group_vote<uint64_t, 0xFFFFFFFFu>;
using quad_vote = detail::group_vote<uint16_t, 0xF>;

// ---------------------------------------------------------------------------------------------
// SIMD-group (W = 32) and quad-group (W = 4) functions.

#define MTLH_REDUCTION(name, W, Op)                                           \
  template <class T>                                                          \
  MTLH_NOINLINE T name(T data) {                                              \
    const auto x = MTLH_EXCHANGE(data, #name);                                \
    return ::metal_host::detail::reduce<T, W>(x, ::metal_host::detail::Op{}); \
  }
#define MTLH_PREFIX(name, W, Op, inclusive, identity)                      \
  template <class T>                                                       \
  MTLH_NOINLINE T name(T data) {                                           \
    const auto x = MTLH_EXCHANGE(data, #name);                             \
    return ::metal_host::detail::prefix<T, W>(x, inclusive, T(identity),   \
                                              ::metal_host::detail::Op{}); \
  }

#define MTLH_GROUP_FUNCTIONS(P, W)                                                                \
  MTLH_REDUCTION(P##_sum, W, Add)                                                                 \
  MTLH_REDUCTION(P##_product, W, Mul)                                                             \
  MTLH_REDUCTION(P##_min, W, Min)                                                                 \
  MTLH_REDUCTION(P##_max, W, Max)                                                                 \
  MTLH_REDUCTION(P##_and, W, And)                                                                 \
  MTLH_REDUCTION(P##_or, W, Or)                                                                   \
  MTLH_REDUCTION(P##_xor, W, Xor)                                                                 \
  MTLH_PREFIX(P##_prefix_inclusive_sum, W, Add, true, 0)                                          \
  MTLH_PREFIX(P##_prefix_exclusive_sum, W, Add, false, 0)                                         \
  MTLH_PREFIX(P##_prefix_inclusive_product, W, Mul, true, 1)                                      \
  MTLH_PREFIX(P##_prefix_exclusive_product, W, Mul, false, 1)                                     \
                                                                                                  \
  /* Value of group position `lane` (own value if that lane is inactive). */                      \
  template <class T>                                                                              \
  MTLH_NOINLINE T P##_shuffle(T data, uint16_t lane) {                                            \
    const auto x = MTLH_EXCHANGE(data, #P "_shuffle");                                            \
    const auto g = ::metal_host::detail::group_of<W>(x);                                          \
    return ::metal_host::detail::from_lane(x, g.base + (uint32_t(lane) & (W - 1)), data);         \
  }                                                                                               \
  template <class T>                                                                              \
  MTLH_NOINLINE T P##_broadcast(T data, uint16_t lane) {                                          \
    const auto x = MTLH_EXCHANGE(data, #P "_broadcast");                                          \
    const auto g = ::metal_host::detail::group_of<W>(x);                                          \
    return ::metal_host::detail::from_lane(x, g.base + (uint32_t(lane) & (W - 1)), data);         \
  }                                                                                               \
  /* Reads position - delta; the lowest delta positions keep their value. */                      \
  template <class T>                                                                              \
  MTLH_NOINLINE T P##_shuffle_up(T data, uint16_t delta) {                                        \
    const auto x = MTLH_EXCHANGE(data, #P "_shuffle_up");                                         \
    const auto g = ::metal_host::detail::group_of<W>(x);                                          \
    if (g.pos < delta) return data;                                                               \
    return ::metal_host::detail::from_lane(x, g.base + g.pos - delta, data);                      \
  }                                                                                               \
  /* Reads position + delta; positions beyond the group keep their value. */                      \
  template <class T>                                                                              \
  MTLH_NOINLINE T P##_shuffle_down(T data, uint16_t delta) {                                      \
    const auto x = MTLH_EXCHANGE(data, #P "_shuffle_down");                                       \
    const auto g = ::metal_host::detail::group_of<W>(x);                                          \
    if (g.pos + delta >= W) return data;                                                          \
    return ::metal_host::detail::from_lane(x, g.base + g.pos + delta, data);                      \
  }                                                                                               \
  template <class T>                                                                              \
  MTLH_NOINLINE T P##_shuffle_rotate_up(T data, uint16_t delta) {                                 \
    const auto x = MTLH_EXCHANGE(data, #P "_shuffle_rotate_up");                                  \
    const auto g = ::metal_host::detail::group_of<W>(x);                                          \
    return ::metal_host::detail::from_lane(x, g.base + ((g.pos - delta) & (W - 1)), data);        \
  }                                                                                               \
  template <class T>                                                                              \
  MTLH_NOINLINE T P##_shuffle_rotate_down(T data, uint16_t delta) {                               \
    const auto x = MTLH_EXCHANGE(data, #P "_shuffle_rotate_down");                                \
    const auto g = ::metal_host::detail::group_of<W>(x);                                          \
    return ::metal_host::detail::from_lane(x, g.base + ((g.pos + delta) & (W - 1)), data);        \
  }                                                                                               \
  template <class T>                                                                              \
  MTLH_NOINLINE T P##_shuffle_xor(T data, uint16_t mask) {                                        \
    const auto x = MTLH_EXCHANGE(data, #P "_shuffle_xor");                                        \
    const auto g = ::metal_host::detail::group_of<W>(x);                                          \
    return ::metal_host::detail::from_lane(x, g.base + ((g.pos ^ mask) & (W - 1)), data);         \
  }                                                                                               \
  /* Within groups of `modulo` positions: position p reads data of p - delta, or, for    */       \
  /* p < delta, filling_data of p + modulo - delta.                                       */      \
  template <class T>                                                                              \
  MTLH_NOINLINE T P##_shuffle_and_fill_up(T data, T filling_data, uint16_t delta,                 \
                                          uint16_t modulo = W) {                                  \
    const ::metal_host::detail::Pair<T> pr{data, filling_data};                                   \
    const auto x = MTLH_EXCHANGE(pr, #P "_shuffle_and_fill_up");                                  \
    const auto g = ::metal_host::detail::group_of<W>(x);                                          \
    const uint32_t m = (modulo == 0 || modulo > W) ? W : modulo;                                  \
    const uint32_t j = g.pos % m, b = g.base + g.pos - j;                                         \
    if (j >= delta) return ::metal_host::detail::from_lane(x, b + j - delta, pr).data;            \
    if (delta > m) return data;                                                                   \
    return ::metal_host::detail::from_lane(x, b + m - delta + j, pr).fill;                        \
  }                                                                                               \
  template <class T>                                                                              \
  MTLH_NOINLINE T P##_shuffle_and_fill_down(T data, T filling_data, uint16_t delta,               \
                                            uint16_t modulo = W) {                                \
    const ::metal_host::detail::Pair<T> pr{data, filling_data};                                   \
    const auto x = MTLH_EXCHANGE(pr, #P "_shuffle_and_fill_down");                                \
    const auto g = ::metal_host::detail::group_of<W>(x);                                          \
    const uint32_t m = (modulo == 0 || modulo > W) ? W : modulo;                                  \
    const uint32_t j = g.pos % m, b = g.base + g.pos - j;                                         \
    if (j + delta < m) return ::metal_host::detail::from_lane(x, b + j + delta, pr).data;         \
    if (delta > m) return data;                                                                   \
    return ::metal_host::detail::from_lane(x, b + j + delta - m, pr).fill;                        \
  }                                                                                               \
  template <class T>                                                                              \
  MTLH_NOINLINE T P##_broadcast_first(T data) {                                                   \
    const auto x = MTLH_EXCHANGE(data, #P "_broadcast_first");                                    \
    const auto g = ::metal_host::detail::group_of<W>(x);                                          \
    return ::metal_host::detail::lane_value<T>(x, ::metal_host::detail::ctz64(g.mask));           \
  }                                                                                               \
  MTLH_NOINLINE inline bool P##_all(bool expr) {                                                  \
    const auto x = MTLH_EXCHANGE(expr, #P "_all");                                                \
    uint64_t m = ::metal_host::detail::group_of<W>(x).mask;                                       \
    for (; m; m &= m - 1)                                                                         \
      if (!::metal_host::detail::lane_value<bool>(x, ::metal_host::detail::ctz64(m)))             \
        return false;                                                                             \
    return true;                                                                                  \
  }                                                                                               \
  MTLH_NOINLINE inline bool P##_any(bool expr) {                                                  \
    const auto x = MTLH_EXCHANGE(expr, #P "_any");                                                \
    uint64_t m = ::metal_host::detail::group_of<W>(x).mask;                                       \
    for (; m; m &= m - 1)                                                                         \
      if (::metal_host::detail::lane_value<bool>(x, ::metal_host::detail::ctz64(m))) return true; \
    return false;                                                                                 \
  }                                                                                               \
  MTLH_NOINLINE inline bool P##_is_first() {                                                      \
    const bool dummy = true;                                                                      \
    const auto x = MTLH_EXCHANGE(dummy, #P "_is_first");                                          \
    return ::metal_host::detail::ctz64(::metal_host::detail::group_of<W>(x).mask) == x.lane;      \
  }                                                                                               \
  inline bool P##_is_helper_thread() {                                                            \
    return false;                                                                                 \
  }

MTLH_GROUP_FUNCTIONS(simd, 32)
MTLH_GROUP_FUNCTIONS(quad, 4)

#undef MTLH_GROUP_FUNCTIONS
#undef MTLH_PREFIX
#undef MTLH_REDUCTION

MTLH_NOINLINE inline simd_vote simd_ballot(bool expr) {
  const auto x = MTLH_EXCHANGE(expr, "simd_ballot");
  uint64_t v = 0;
  for (uint64_t m = x.active; m; m &= m - 1) {
    const uint32_t l = ::metal_host::detail::ctz64(m);
    if (::metal_host::detail::lane_value<bool>(x, l)) v |= uint64_t(1) << l;
  }
  return simd_vote(v, x.active);
}
MTLH_NOINLINE inline simd_vote simd_active_threads_mask() {
  const bool dummy = true;
  const auto x = MTLH_EXCHANGE(dummy, "simd_active_threads_mask");
  return simd_vote(x.active, x.active);
}
MTLH_NOINLINE inline quad_vote quad_ballot(bool expr) {
  const auto x = MTLH_EXCHANGE(expr, "quad_ballot");
  const auto g = ::metal_host::detail::group_of<4>(x);
  uint16_t v = 0;
  for (uint64_t m = g.mask; m; m &= m - 1) {
    const uint32_t l = ::metal_host::detail::ctz64(m);
    if (::metal_host::detail::lane_value<bool>(x, l)) v |= uint16_t(1u << (l - g.base));
  }
  return quad_vote(v, uint16_t(g.mask >> g.base));
}
MTLH_NOINLINE inline quad_vote quad_active_threads_mask() {
  const bool dummy = true;
  const auto x = MTLH_EXCHANGE(dummy, "quad_active_threads_mask");
  const auto g = ::metal_host::detail::group_of<4>(x);
  return quad_vote(uint16_t(g.mask >> g.base), uint16_t(g.mask >> g.base));
}

// ---------------------------------------------------------------------------------------------
// simdgroup_matrix<T, 8, 8>: each of the 32 lanes holds 2 of the 64 elements (Apple's layout,
// as documented by MLX's BaseMMAFrag): lane l holds row (l/4 & 4) + (l/2 % 4), columns
// c and c + 1 with c = (l/4 & 2) * 2 + (l % 2) * 2. Loads/stores are per lane; multiply is a
// SIMD-group collective.

template <class T, int Cols, int Rows>
struct simdgroup_matrix;

namespace simdgroup_detail {
inline constexpr uint32_t row_of(uint32_t lane) {
  return ((lane / 4) & 4) + ((lane / 2) % 4);
}
inline constexpr uint32_t col_of(uint32_t lane) {
  return ((lane / 4) & 2) * 2 + (lane % 2) * 2;
}
template <class O>
inline void origin_of(const O& o, size_t& x, size_t& y) {
  if constexpr (std::is_arithmetic_v<O>) {
    x = y = size_t(o);
  } else {
    x = size_t(o.x);
    y = size_t(o.y);
  }
}
/// Where the caller's 2 elements of a matrix are in memory (see simdgroup_load).
struct ElementOffsets {
  size_t at[2];
};
template <class O>
inline ElementOffsets element_offsets(size_t elements_per_row, O matrix_origin, bool transpose) {
  size_t ox, oy;
  origin_of(matrix_origin, ox, oy);
  const uint32_t lane = ::metal_host::rt::current_lane();
  const size_t r = row_of(lane), c = col_of(lane);
  ElementOffsets o;
  for (size_t k = 0; k < 2; ++k) {
    const size_t i = transpose ? (c + k) * elements_per_row + r : r * elements_per_row + c + k;
    o.at[k] = oy * elements_per_row + ox + i;
  }
  return o;
}
}  // namespace simdgroup_detail

template <class T>
struct simdgroup_matrix<T, 8, 8> {
  using element_type = T;
  vec<T, 2> elements_;

  simdgroup_matrix() = default;
  /// A diagonal matrix with `dval` on the diagonal.
  explicit simdgroup_matrix(T dval) {
    const uint32_t lane = ::metal_host::rt::current_lane();
    const uint32_t r = simdgroup_detail::row_of(lane), c = simdgroup_detail::col_of(lane);
    elements_[0] = r == c ? dval : T(0);
    elements_[1] = r == c + 1 ? dval : T(0);
  }
  vec<T, 2>& thread_elements() { return elements_; }
  const vec<T, 2>& thread_elements() const { return elements_; }
};

using simdgroup_float8x8 = simdgroup_matrix<float, 8, 8>;
using simdgroup_half8x8 = simdgroup_matrix<half, 8, 8>;
using simdgroup_bfloat8x8 = simdgroup_matrix<bfloat, 8, 8>;

template <class T, int Cols, int Rows = Cols>
inline simdgroup_matrix<T, Cols, Rows> make_filled_simdgroup_matrix(const T value) {
  simdgroup_matrix<T, Cols, Rows> m;
  m.elements_[0] = value;
  m.elements_[1] = value;
  return m;
}

/// Element (r, c) = src[(origin.y + r) * elements_per_row + origin.x + c], or with transpose
/// src[(origin.y + c) * elements_per_row + origin.x + r].
template <class T, class U, class O = int>
inline void simdgroup_load(simdgroup_matrix<T, 8, 8>& d, const U* src, size_t elements_per_row = 8,
                           O matrix_origin = 0, bool transpose = false) {
  const auto o = simdgroup_detail::element_offsets(elements_per_row, matrix_origin, transpose);
  for (int k = 0; k < 2; ++k) d.elements_[k] = static_cast<T>(src[o.at[k]]);
}

template <class T, class U, class O = int>
inline void simdgroup_store(const simdgroup_matrix<T, 8, 8>& a, U* dst, size_t elements_per_row = 8,
                            O matrix_origin = 0, bool transpose = false) {
  const auto o = simdgroup_detail::element_offsets(elements_per_row, matrix_origin, transpose);
  for (int k = 0; k < 2; ++k) dst[o.at[k]] = static_cast<U>(a.elements_[k]);
}

namespace simdgroup_detail {
struct Frag {
  float a[2], b[2];
};
/// d = a * b (+ c): lanes exchange their elements of a and b, each computes its 2 of d.
template <class TD, class TA, class TB, class TC>
inline void mma(simdgroup_matrix<TD, 8, 8>& d, const simdgroup_matrix<TA, 8, 8>& a,
                const simdgroup_matrix<TB, 8, 8>& b, const simdgroup_matrix<TC, 8, 8>* c,
                const void* site) {
  Frag mine;
  for (int k = 0; k < 2; ++k) {
    mine.a[k] = float(a.elements_[k]);
    mine.b[k] = float(b.elements_[k]);
  }
  static constexpr char mtlh_tag = 0;
  const auto x = ::metal_host::detail::exchange(mine, site, &mtlh_tag, "simdgroup_multiply");
  // The first lane to read computes the whole 8x8 product into the exchange's shared cache.
  static_assert(::metal_host::rt::kCacheBytes >= 64 * sizeof(float),
                "cache too small for an 8x8 product");
  float* prod = reinterpret_cast<float*>(x.cache);
  if (!(*x.cache_valid & 1u)) {
    float A[64] = {}, B[64] = {};
    for (uint64_t m = x.active; m; m &= m - 1) {
      const uint32_t l = ::metal_host::detail::ctz64(m);
      const Frag f = ::metal_host::detail::lane_value<Frag>(x, l);
      const uint32_t at = row_of(l) * 8 + col_of(l);
      A[at] = f.a[0];
      A[at + 1] = f.a[1];
      B[at] = f.b[0];
      B[at + 1] = f.b[1];
    }
    float D[64] = {};
    for (int i = 0; i < 8; ++i)
      for (int k = 0; k < 8; ++k) {
        const float aik = A[i * 8 + k];
        for (int j = 0; j < 8; ++j) D[i * 8 + j] += aik * B[k * 8 + j];
      }
    __builtin_memcpy(prod, D, sizeof D);
    *x.cache_valid |= 1u;
  }
  const uint32_t at = row_of(x.lane) * 8 + col_of(x.lane);
  float acc[2], sum[2] = {prod[at], prod[at + 1]};
  for (int k = 0; k < 2; ++k) acc[k] = c ? float(c->elements_[k]) : 0.0f;
  d.elements_[0] = static_cast<TD>(sum[0] + acc[0]);
  d.elements_[1] = static_cast<TD>(sum[1] + acc[1]);
}
}  // namespace simdgroup_detail

template <class TD, class TA, class TB, class TC>
MTLH_NOINLINE void simdgroup_multiply_accumulate(simdgroup_matrix<TD, 8, 8>& d,
                                                 const simdgroup_matrix<TA, 8, 8>& a,
                                                 const simdgroup_matrix<TB, 8, 8>& b,
                                                 const simdgroup_matrix<TC, 8, 8>& c) {
  simdgroup_detail::mma(d, a, b, &c, MTLH_SITE);
}

template <class TD, class TA, class TB>
MTLH_NOINLINE void simdgroup_multiply(simdgroup_matrix<TD, 8, 8>& d,
                                      const simdgroup_matrix<TA, 8, 8>& a,
                                      const simdgroup_matrix<TB, 8, 8>& b) {
  simdgroup_detail::mma(d, a, b, static_cast<const simdgroup_matrix<TD, 8, 8>*>(nullptr),
                        MTLH_SITE);
}

}  // namespace metal
