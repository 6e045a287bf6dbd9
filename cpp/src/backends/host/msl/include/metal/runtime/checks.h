// Host debug checks: the C++ side of the "checked" translation of a kernel library (the token
// rewriting is python/metallic/_msl/checks.py). Included by metallic_msl_prelude.h only when the
// translated unit defines METALLIC_HOST_CHECKS, so unchecked kernels never see any of this.
//
// In a checked translation every `device T*`, `constant T*` and `threadgroup T*` becomes a
// checked_ptr<T>: the pointer plus the region it may point into (one [[buffer(i)]] binding, one
// [[threadgroup(i)]] block or one threadgroup variable). Every element access is bounds-checked
// against that region; threadgroup memory also has a shadow (one byte per byte, 0xCD = never
// written in this threadgroup, which is how rt::threadgroup_variable fills new storage), so a
// read of an element no thread wrote is a fault. `threadgroup T name[N][M];` becomes a
// tg_array<T, N, M> (a checked_ptr to its own storage). Faults go through rt::fault, which names
// the kernel, the threadgroup and the thread.
//
// The translator tells reads from writes by the syntax around `p[i]` / `*p` (chk_read,
// chk_write, chk_update, chk_addr below); any other use of operator[], operator* or operator->
// is an "access": bounds-checked, and counted as a write for the shadow (so it never reports an
// uninitialised read falsely). A checked_ptr converted to a raw pointer (passed to a function
// that takes one) is checked to point at an element of its region, and for threadgroup memory
// marks the whole region written (what happens through the raw pointer is not tracked).
#pragma once

#include <cstddef>
#include <cstdint>
#include <metal_stdlib>
#include <type_traits>
#include <utility>

#include "metal/runtime/exec.h"
#include "metal/runtime/launch.h"
#include "metallic_host_abi.h"

namespace metal_host {
namespace checks {

enum Mode : uint8_t { kAccess, kRead, kWrite, kUpdate, kPointer };
enum Space : uint8_t { kUnchecked, kBuffer, kThreadgroupBuffer, kThreadgroupVariable };
/// Shadow byte of threadgroup memory no thread has written (rt::threadgroup_variable's fill).
constexpr unsigned char kUninitialised = 0xCD;

/// The memory a checked pointer may point into.
struct Region {
  char* base = nullptr;
  uint64_t bytes = 0;
  unsigned char* shadow = nullptr;  // threadgroup memory: 0xCD = byte never written
  const char* name = nullptr;       // threadgroup variable
  uint32_t index = 0;               // [[buffer(i)]] / [[threadgroup(i)]]
  Space space = kUnchecked;
};

inline void describe(const Region& r, char* buf, size_t n) {
  switch (r.space) {
    case kBuffer:
      __builtin_snprintf(buf, n, "[[buffer(%u)]]", r.index);
      break;
    case kThreadgroupBuffer:
      __builtin_snprintf(buf, n, "[[threadgroup(%u)]]", r.index);
      break;
    case kThreadgroupVariable:
      __builtin_snprintf(buf, n, "threadgroup variable '%s'", r.name ? r.name : "?");
      break;
    default:
      __builtin_snprintf(buf, n, "memory");
  }
}

inline const char* mode_name(Mode m) {
  switch (m) {
    case kRead:
      return "read";
    case kWrite:
      return "write";
    case kUpdate:
      return "read-modify-write";
    case kPointer:
      return "pointer use";
    default:
      return "access";
  }
}

/// floor(off / elem): element -1 is the one just before the start.
inline long long element_of(int64_t off, size_t elem) {
  const int64_t e = int64_t(elem ? elem : 1);
  return off >= 0 ? off / e : -((-off + e - 1) / e);
}

[[noreturn]] MTLH_NOINLINE inline void fail_range(const Region& r, int64_t off, size_t elem,
                                                  Mode m) {
  char what[128], msg[512];
  describe(r, what, sizeof what);
  const long long index = element_of(off, elem);
  if (r.base == nullptr && r.bytes == 0) {
    __builtin_snprintf(msg, sizeof msg, "out-of-range %s: %s element %lld: nothing is bound there",
                       mode_name(m), what, index);
  } else if (r.bytes % elem == 0 && off % int64_t(elem) == 0) {
    __builtin_snprintf(msg, sizeof msg,
                       "out-of-range %s: %s element %lld (it holds %llu elements of %zu bytes)",
                       mode_name(m), what, index, (unsigned long long)(r.bytes / elem), elem);
  } else {
    __builtin_snprintf(msg, sizeof msg,
                       "out-of-range %s: %s element %lld at byte offset %lld (%zu bytes; it holds "
                       "%llu bytes)",
                       mode_name(m), what, index, (long long)off, elem,
                       (unsigned long long)r.bytes);
  }
  rt::fault(msg);
}

[[noreturn]] MTLH_NOINLINE inline void fail_uninitialised(const Region& r, int64_t off, size_t elem,
                                                          Mode m) {
  char what[128], msg[512];
  describe(r, what, sizeof what);
  __builtin_snprintf(msg, sizeof msg,
                     "%s of uninitialised threadgroup memory: %s element %lld (no thread of this "
                     "threadgroup wrote it before)",
                     mode_name(m), what, element_of(off, elem));
  rt::fault(msg);
}

/// Checks an access of `elem` bytes at `at` and updates the shadow; returns `at`.
inline char* check(const Region& r, char* at, size_t elem, Mode m) {
  if (r.space == kUnchecked) return at;
  const int64_t off = int64_t(reinterpret_cast<intptr_t>(at) - reinterpret_cast<intptr_t>(r.base));
  if (off < 0 || uint64_t(off) + elem > r.bytes) fail_range(r, off, elem, m);
  if (r.shadow) {
    unsigned char* s = r.shadow + off;
    if (m == kRead || m == kUpdate) {
      for (size_t b = 0; b < elem; ++b)
        if (s[b] == kUninitialised) fail_uninitialised(r, off, elem, m);
    }
    if (m != kRead) __builtin_memset(s, 0, elem);
  }
  return at;
}

/// A raw pointer leaves the checks: it must point at an element of the region; threadgroup
/// memory counts as written from then on (accesses through the raw pointer are not tracked).
inline char* escape(const Region& r, char* at, size_t elem) {
  if (r.space == kUnchecked || at == nullptr) return at;
  check(r, at, elem, kPointer);
  if (r.shadow) __builtin_memset(r.shadow, 0, size_t(r.bytes));
  return at;
}

inline char* advance(char* p, int64_t elements, size_t elem) {
  return reinterpret_cast<char*>(reinterpret_cast<uintptr_t>(p) +
                                 uintptr_t(elements * int64_t(elem)));
}

template <class T>
constexpr size_t size_of() {
  if constexpr (std::is_void_v<T>) {
    return 1;
  } else {
    return sizeof(T);
  }
}

}  // namespace checks

/// What every checked pointer holds: the current position and its region.
struct ptr_state {
  char* cur_ = nullptr;
  checks::Region region_;
};

template <class T>
class checked_ptr;

namespace checks {
// checked_ptr<T> derives from checked_ptr<const T>: `device T*` converts to `device const T*`
// as a derived-to-base conversion, which template argument deduction also accepts
// (template <class U> f(device const U* p) called with a `device float*`).
template <class T>
using checked_parent = std::conditional_t<std::is_const_v<T>, ptr_state, checked_ptr<const T>>;
template <class P>
constexpr bool is_checked =
    std::is_base_of_v<ptr_state, std::remove_cv_t<std::remove_reference_t<P>>>;
}  // namespace checks

template <class T>
class checked_ptr : public checks::checked_parent<T> {
 public:
  using element_type = T;
  using reference = std::add_lvalue_reference_t<T>;

  checked_ptr() = default;
  checked_ptr(std::nullptr_t) {}
  checked_ptr(T* p, const checks::Region& r) {
    this->cur_ = (char*)p;
    this->region_ = r;
  }
  /// A raw pointer the checks know nothing about (never faults); explicit unless U* converts
  /// to T* (`(device T*)raw`).
  template <class U, std::enable_if_t<std::is_convertible_v<U*, T*>, int> = 0>
  checked_ptr(U* p) {
    this->cur_ = (char*)p;
  }
  template <class U, std::enable_if_t<!std::is_convertible_v<U*, T*>, int> = 0>
  explicit checked_ptr(U* p) {
    this->cur_ = (char*)p;
  }
  /// (device T*)p, reinterpret_cast<device T*>(p), const_cast: same position and region.
  template <class U, std::enable_if_t<!std::is_base_of_v<checked_ptr, checked_ptr<U>>, int> = 0>
  explicit checked_ptr(const checked_ptr<U>& o) {
    this->cur_ = o.cur_;
    this->region_ = o.region_;
  }

  /// Element i with an access of kind m (the checks' entry point).
  reference mtlh_at(int64_t i, checks::Mode m) const {
    constexpr size_t size = checks::size_of<T>();
    return *reinterpret_cast<T*>(
        checks::check(this->region_, checks::advance(this->cur_, i, size), size, m));
  }
  T* mtlh_raw() const { return reinterpret_cast<T*>(this->cur_); }

  template <class I>
  reference operator[](I i) const {
    return mtlh_at(int64_t(i), checks::kAccess);
  }
  reference operator*() const { return mtlh_at(0, checks::kAccess); }
  T* operator->() const { return &mtlh_at(0, checks::kAccess); }

  explicit operator bool() const { return this->cur_ != nullptr; }
  operator T*() const {
    return reinterpret_cast<T*>(checks::escape(this->region_, this->cur_, checks::size_of<T>()));
  }

  template <class I, std::enable_if_t<std::is_integral_v<I> || std::is_enum_v<I>, int> = 0>
  checked_ptr operator+(I i) const {
    checked_ptr r = *this;
    r.cur_ = checks::advance(this->cur_, int64_t(i), checks::size_of<T>());
    return r;
  }
  template <class I, std::enable_if_t<std::is_integral_v<I> || std::is_enum_v<I>, int> = 0>
  friend checked_ptr operator+(I i, const checked_ptr& p) {
    return p + i;
  }
  template <class I, std::enable_if_t<std::is_integral_v<I> || std::is_enum_v<I>, int> = 0>
  checked_ptr operator-(I i) const {
    checked_ptr r = *this;
    r.cur_ = checks::advance(this->cur_, -int64_t(i), checks::size_of<T>());
    return r;
  }
  template <class U>
  ptrdiff_t operator-(const checked_ptr<U>& o) const {
    return (this->cur_ - o.cur_) / ptrdiff_t(checks::size_of<T>());
  }
  template <class I>
  checked_ptr& operator+=(I i) {
    this->cur_ = checks::advance(this->cur_, int64_t(i), checks::size_of<T>());
    return *this;
  }
  template <class I>
  checked_ptr& operator-=(I i) {
    this->cur_ = checks::advance(this->cur_, -int64_t(i), checks::size_of<T>());
    return *this;
  }
  checked_ptr& operator++() { return *this += 1; }
  checked_ptr& operator--() { return *this -= 1; }
  checked_ptr operator++(int) {
    checked_ptr r = *this;
    *this += 1;
    return r;
  }
  checked_ptr operator--(int) {
    checked_ptr r = *this;
    *this -= 1;
    return r;
  }
};

#define MTLH_CHECKED_COMPARE(op)                                                       \
  template <class A, class B,                                                          \
            std::enable_if_t<checks::is_checked<A> && checks::is_checked<B>, int> = 0> \
  inline bool operator op(const A& a, const B& b) {                                    \
    return a.cur_ op b.cur_;                                                           \
  }                                                                                    \
  template <class A, class U, std::enable_if_t<checks::is_checked<A>, int> = 0>        \
  inline bool operator op(const A& a, U* b) {                                          \
    return (const void*)a.cur_ op(const void*) b;                                      \
  }                                                                                    \
  template <class A, class U, std::enable_if_t<checks::is_checked<A>, int> = 0>        \
  inline bool operator op(U* a, const A& b) {                                          \
    return (const void*)a op(const void*) b.cur_;                                      \
  }
MTLH_CHECKED_COMPARE(==)
MTLH_CHECKED_COMPARE(!=)
MTLH_CHECKED_COMPARE(<)
MTLH_CHECKED_COMPARE(<=)
MTLH_CHECKED_COMPARE(>)
MTLH_CHECKED_COMPARE(>=)
#undef MTLH_CHECKED_COMPARE
template <class A, std::enable_if_t<checks::is_checked<A>, int> = 0>
inline bool operator==(const A& a, std::nullptr_t) {
  return a.cur_ == nullptr;
}
template <class A, std::enable_if_t<checks::is_checked<A>, int> = 0>
inline bool operator!=(const A& a, std::nullptr_t) {
  return a.cur_ != nullptr;
}

/// reinterpret_cast / const_cast to a checked pointer type.
template <class To, class From>
inline To checked_pointer_cast(const From& from) {
  return To(from);
}

/// `threadgroup T name[D0][D1]...;` (no dimensions: a threadgroup scalar or struct). The storage
/// of the current threadgroup, followed by its shadow.
template <class T, size_t... Dims>
class tg_array : public checked_ptr<T> {
 public:
  static constexpr size_t kRank = sizeof...(Dims);
  static constexpr size_t kCount = (size_t(1) * ... * Dims);

  tg_array(uint32_t id, const char* name) : tg_array(id, name, nullptr) {}
  /// With an initialiser (`threadgroup float a[32] = {0};`): init(storage) runs once per
  /// threadgroup, and what it wrote counts as written.
  template <class Init>
  tg_array(uint32_t id, const char* name, Init init) {
    const size_t bytes = sizeof(T) * kCount;
    bool fresh = false;
    char* p = static_cast<char*>(rt::threadgroup_variable(id, 2 * bytes, alignof(T), &fresh));
    this->cur_ = p;
    this->region_ = checks::Region{p,    bytes, reinterpret_cast<unsigned char*>(p + bytes),
                                   name, 0,     checks::kThreadgroupVariable};
    if constexpr (!std::is_same_v<Init, std::nullptr_t>) {
      if (fresh) {
        init(p);
        __builtin_memset(p + bytes, 0, bytes);
      }
    }
  }

  /// Flat index of the leading subscripts (checked against their dimensions).
  template <class... I>
  int64_t mtlh_flat(I... idx) const {
    static_assert(sizeof...(I) <= kRank, "too many subscripts");
    constexpr size_t dims[] = {Dims..., 1};
    const int64_t values[] = {int64_t(idx)..., 0};
    int64_t flat = 0;
    bool bad = false;
    for (size_t k = 0; k < kRank; ++k) {
      const int64_t v = k < sizeof...(I) ? values[k] : 0;
      if (k < sizeof...(I) && (v < 0 || uint64_t(v) >= dims[k])) bad = true;
      flat = flat * int64_t(dims[k]) + v;
    }
    if (bad) fail_index(values, sizeof...(I), dims);
    return flat;
  }
  template <class... I>
  T& mtlh_elem(checks::Mode m, I... idx) const {
    return this->mtlh_at(mtlh_flat(idx...), m);
  }
  /// Partial subscripts: a pointer to the first element of the sub-array.
  template <class... I>
  checked_ptr<T> mtlh_row(I... idx) const {
    checked_ptr<T> r = *this;
    r.cur_ = checks::advance(this->cur_, mtlh_flat(idx...), sizeof(T));
    return r;
  }

  template <class I>
  decltype(auto) operator[](I i) const {
    if constexpr (kRank <= 1) {
      return this->mtlh_at(int64_t(i), checks::kAccess);
    } else {
      return mtlh_row(i);
    }
  }

 private:
  [[noreturn]] MTLH_NOINLINE void fail_index(const int64_t* values, size_t n,
                                             const size_t* dims) const {
    char msg[512];
    int len = __builtin_snprintf(msg, sizeof msg, "out-of-range index: threadgroup variable '%s' ",
                                 this->region_.name);
    for (size_t k = 0; k < n && len < 400; ++k)
      len += __builtin_snprintf(msg + len, sizeof msg - len, "[%lld]", (long long)values[k]);
    len += __builtin_snprintf(msg + len, sizeof msg - len, " (declared");
    for (size_t k = 0; k < kRank && len < 480; ++k)
      len += __builtin_snprintf(msg + len, sizeof msg - len, "[%zu]", dims[k]);
    __builtin_snprintf(msg + len, sizeof msg - len, ")");
    rt::fault(msg);
  }
};

namespace checks {

template <class P>
struct tg_rank {
  static constexpr int value = -1;
};
template <class T, size_t... D>
struct tg_rank<tg_array<T, D...>> {
  static constexpr int value = int(sizeof...(D));
};
template <class P>
constexpr int rank_of = tg_rank<std::remove_cv_t<std::remove_reference_t<P>>>::value;

template <class P>
inline decltype(auto) subscript(P&& p) {
  return std::forward<P>(p);
}
template <class P, class I, class... Rest>
inline decltype(auto) subscript(P&& p, I i, Rest... rest) {
  return subscript(std::forward<P>(p)[i], rest...);
}

template <Mode M, class P, class I, class... Rest>
inline decltype(auto) tg_element(P& p, I i, Rest... rest) {
  // A rank-1 array of vectors/arrays subscripted twice: the element, then its component.
  return subscript(p.mtlh_elem(M, i), rest...);
}

template <Mode M, class P, class... I>
inline decltype(auto) element(P&& p, I... i) {
  constexpr int rank = rank_of<P>;
  if constexpr (rank >= 0) {
    if constexpr (sizeof...(I) == size_t(rank)) {
      return p.mtlh_elem(M, i...);
    } else if constexpr (sizeof...(I) < size_t(rank)) {
      return p.mtlh_row(i...);
    } else {
      static_assert(rank == 1, "subscripts beyond the array's rank");
      return tg_element<M>(p, i...);
    }
  } else if constexpr (is_checked<P>) {
    if constexpr (sizeof...(I) == 0) {
      return std::forward<P>(p);
    } else {
      return [&](auto first, auto... rest) -> decltype(auto) {
        return subscript(p.mtlh_at(int64_t(first), M), rest...);
      }(i...);
    }
  } else {
    return subscript(std::forward<P>(p), i...);
  }
}

}  // namespace checks

/// The translator's rewrites of `p[i]...` / `*p` / `&p[i]` on checked names (on anything else
/// they are the plain expression).
template <class P, class... I>
inline decltype(auto) chk_read(P&& p, I... i) {
  return checks::element<checks::kRead>(std::forward<P>(p), i...);
}
template <class P, class... I>
inline decltype(auto) chk_write(P&& p, I... i) {
  return checks::element<checks::kWrite>(std::forward<P>(p), i...);
}
template <class P, class... I>
inline decltype(auto) chk_update(P&& p, I... i) {
  return checks::element<checks::kUpdate>(std::forward<P>(p), i...);
}
/// An element that may be bound to a non-const reference (a function's out parameter): bounds
/// checked, counted as written.
template <class P, class... I>
inline decltype(auto) chk_access(P&& p, I... i) {
  return checks::element<checks::kAccess>(std::forward<P>(p), i...);
}
template <class P, class... I>
inline auto chk_addr(P&& p, I... i) {
  constexpr int rank = checks::rank_of<P>;
  if constexpr (rank >= 0 && sizeof...(I) <= size_t(rank)) {
    return p.mtlh_row(i...);
  } else if constexpr (checks::is_checked<P> && rank < 0 && sizeof...(I) == 1) {
    return (p + ... + i);
  } else {
    return &checks::element<checks::kAccess>(std::forward<P>(p), i...);
  }
}

// ---- argument binding of checked launchers (see metallic_msl_prelude.h) ----------------------

/// [[buffer(I)]]: a checked pointer over the binding, or a reference checked to fit.
template <uint32_t I>
struct CheckedBufferArg {
  template <class P>
  P get(const mtlh_dispatch* d, const ThreadIds&, ThreadgroupState&) const {
    void* p = d->buffers[I];
    const uint64_t bytes = I < d->num_buffers && p ? d->buffer_lengths[I] : 0;
    if constexpr (checks::is_checked<P>) {
      using T = typename std::remove_cv_t<P>::element_type;
      return std::remove_cv_t<P>(
          static_cast<T*>(p),
          checks::Region{static_cast<char*>(p), bytes, nullptr, nullptr, I, checks::kBuffer});
    } else if constexpr (std::is_pointer_v<P>) {
      return (P)(p);
    } else {
      using V = std::remove_cv_t<std::remove_reference_t<P>>;
      char msg[256];
      if (p == nullptr) {
        __builtin_snprintf(msg, sizeof msg, "nothing is bound at [[buffer(%u)]]", I);
        rt::fault(msg);
      }
      if (bytes < sizeof(V)) {
        __builtin_snprintf(msg, sizeof msg,
                           "[[buffer(%u)]] holds %llu bytes, its parameter's type needs %zu", I,
                           (unsigned long long)bytes, sizeof(V));
        rt::fault(msg);
      }
      if constexpr (std::is_reference_v<P>) {
        return *(std::remove_reference_t<P>*)(p);
      } else {
        return *(const P*)(p);
      }
    }
  }
};

/// [[threadgroup(I)]]: a checked pointer over this threadgroup's block, with a shadow kept in
/// threadgroup variable ShadowId.
template <uint32_t I, uint32_t ShadowId>
struct CheckedThreadgroupArg {
  template <class P>
  P get(const mtlh_dispatch* d, const ThreadIds&, ThreadgroupState& g) const {
    if constexpr (checks::is_checked<P>) {
      using T = typename std::remove_cv_t<P>::element_type;
      char* base = static_cast<char*>(g.threadgroup_buffers[I]);
      const uint64_t bytes =
          I < d->num_threadgroup && d->threadgroup_lengths && base ? d->threadgroup_lengths[I] : 0;
      auto* shadow =
          bytes ? static_cast<unsigned char*>(rt::threadgroup_variable(ShadowId, bytes, 16))
                : nullptr;
      return std::remove_cv_t<P>(
          reinterpret_cast<T*>(base),
          checks::Region{base, bytes, shadow, nullptr, I, checks::kThreadgroupBuffer});
    } else {
      return (P)(g.threadgroup_buffers[I]);
    }
  }
};

}  // namespace metal_host

// ---- stdlib functions that take pointers: checked overloads ----------------------------------
namespace metal {

#define MTLH_CHECKED_ATOMIC(fn, mode)                                                            \
  template <class P, class... A, std::enable_if_t<::metal_host::checks::is_checked<P>, int> = 0> \
  inline decltype(auto) fn(const P& o, A&&... a) {                                               \
    return fn(&o.mtlh_at(0, ::metal_host::checks::mode), std::forward<A>(a)...);                 \
  }
MTLH_CHECKED_ATOMIC(atomic_init, kWrite)
MTLH_CHECKED_ATOMIC(atomic_store_explicit, kWrite)
MTLH_CHECKED_ATOMIC(atomic_load_explicit, kRead)
MTLH_CHECKED_ATOMIC(atomic_exchange_explicit, kUpdate)
MTLH_CHECKED_ATOMIC(atomic_compare_exchange_weak_explicit, kUpdate)
MTLH_CHECKED_ATOMIC(atomic_compare_exchange_strong_explicit, kUpdate)
MTLH_CHECKED_ATOMIC(atomic_fetch_add_explicit, kUpdate)
MTLH_CHECKED_ATOMIC(atomic_fetch_sub_explicit, kUpdate)
MTLH_CHECKED_ATOMIC(atomic_fetch_and_explicit, kUpdate)
MTLH_CHECKED_ATOMIC(atomic_fetch_or_explicit, kUpdate)
MTLH_CHECKED_ATOMIC(atomic_fetch_xor_explicit, kUpdate)
MTLH_CHECKED_ATOMIC(atomic_fetch_min_explicit, kUpdate)
MTLH_CHECKED_ATOMIC(atomic_fetch_max_explicit, kUpdate)
MTLH_CHECKED_ATOMIC(atomic_min_explicit, kUpdate)
MTLH_CHECKED_ATOMIC(atomic_max_explicit, kUpdate)
#undef MTLH_CHECKED_ATOMIC

/// simdgroup_load / simdgroup_store through a checked pointer: each lane checks the two
/// elements it reads or writes, then the plain function runs on the raw pointer.
template <class P, class O>
inline void check_simdgroup_tile(const P& p, size_t elements_per_row, O matrix_origin,
                                 bool transpose, ::metal_host::checks::Mode m) {
  size_t ox, oy;
  simdgroup_detail::origin_of(matrix_origin, ox, oy);
  const uint32_t lane = ::metal_host::rt::current_lane();
  const size_t r = simdgroup_detail::row_of(lane), c = simdgroup_detail::col_of(lane);
  for (size_t k = 0; k < 2; ++k) {
    const size_t i = transpose ? (c + k) * elements_per_row + r : r * elements_per_row + c + k;
    p.mtlh_at(int64_t(oy * elements_per_row + ox + i), m);
  }
}
template <class T, class P, class O = int,
          std::enable_if_t<::metal_host::checks::is_checked<P>, int> = 0>
inline void simdgroup_load(simdgroup_matrix<T, 8, 8>& d, const P& src, size_t elements_per_row = 8,
                           O matrix_origin = 0, bool transpose = false) {
  check_simdgroup_tile(src, elements_per_row, matrix_origin, transpose,
                       ::metal_host::checks::kRead);
  simdgroup_load(d, src.mtlh_raw(), elements_per_row, matrix_origin, transpose);
}
template <class T, class P, class O = int,
          std::enable_if_t<::metal_host::checks::is_checked<P>, int> = 0>
inline void simdgroup_store(const simdgroup_matrix<T, 8, 8>& a, const P& dst,
                            size_t elements_per_row = 8, O matrix_origin = 0,
                            bool transpose = false) {
  check_simdgroup_tile(dst, elements_per_row, matrix_origin, transpose,
                       ::metal_host::checks::kWrite);
  simdgroup_store(a, dst.mtlh_raw(), elements_per_row, matrix_origin, transpose);
}

}  // namespace metal
