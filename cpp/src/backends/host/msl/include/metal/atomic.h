// Emulated MSL atomics.  Threadgroups run concurrently on different OS threads, so these are
// real atomics: GCC __atomic builtins on the plain storage.  atomic<T> has the size/alignment of
// T and may alias it: (device atomic_uint*)uint_buffer works, as in MSL.
// Float add/sub/min/max and integer min/max are compare-exchange loops.
#pragma once

#include <type_traits>

#include "metal/scalar.h"

namespace metal {

enum memory_order : int {
  memory_order_relaxed = __ATOMIC_RELAXED,
  memory_order_acquire = __ATOMIC_ACQUIRE,
  memory_order_release = __ATOMIC_RELEASE,
  memory_order_acq_rel = __ATOMIC_ACQ_REL,
  memory_order_seq_cst = __ATOMIC_SEQ_CST,
};

template <class T>
struct [[gnu::may_alias]] alignas(sizeof(T)) atomic {
  static_assert(sizeof(T) == 1 || sizeof(T) == 2 || sizeof(T) == 4 || sizeof(T) == 8,
                "atomic<T>: unsupported size");
  T __value;
};

typedef atomic<int> atomic_int;
typedef atomic<uint> atomic_uint;
typedef atomic<bool> atomic_bool;
typedef atomic<float> atomic_float;
typedef atomic<long> atomic_long;
typedef atomic<ulong> atomic_ulong;
static_assert(sizeof(atomic_uint) == 4 && alignof(atomic_uint) == 4, "atomic layout");

namespace adetail {
template <class T>
struct id {
  using type = T;
};
template <class T>
using id_t = typename id<T>::type;
template <class T>
inline T* ptr(const volatile atomic<T>* o) {
  return reinterpret_cast<T*>(const_cast<atomic<T>*>(o));
}
constexpr int fail_order(int o) {
  return o == __ATOMIC_ACQ_REL ? __ATOMIC_ACQUIRE : (o == __ATOMIC_RELEASE ? __ATOMIC_RELAXED : o);
}
// generic read-modify-write through a CAS loop (works for float)
template <class T, class F>
inline T rmw(T* p, F f, int order) {
  T old;
  __atomic_load(p, &old, __ATOMIC_RELAXED);
  T desired;
  do {
    desired = f(old);
  } while (!__atomic_compare_exchange(p, &old, &desired, true, order, __ATOMIC_RELAXED));
  return old;
}
}  // namespace adetail

template <class T>
inline void atomic_init(volatile atomic<T>* o, adetail::id_t<T> v) {
  *adetail::ptr(o) = v;
}

template <class T>
inline T atomic_load_explicit(const volatile atomic<T>* o, memory_order order) {
  T r;
  __atomic_load(adetail::ptr(o), &r,
                order == memory_order_release || order == memory_order_acq_rel ? __ATOMIC_ACQUIRE
                                                                               : int(order));
  return r;
}
template <class T>
inline void atomic_store_explicit(volatile atomic<T>* o, adetail::id_t<T> v, memory_order order) {
  __atomic_store(adetail::ptr(o), &v,
                 order == memory_order_acquire || order == memory_order_acq_rel ? __ATOMIC_RELEASE
                                                                                : int(order));
}
template <class T>
inline T atomic_exchange_explicit(volatile atomic<T>* o, adetail::id_t<T> v, memory_order order) {
  T r;
  __atomic_exchange(adetail::ptr(o), &v, &r, order);
  return r;
}
// MSL: (object, expected*, desired, success_order, failure_order); implemented as a strong CAS
// (a valid implementation of the weak one).
template <class T>
inline bool atomic_compare_exchange_weak_explicit(volatile atomic<T>* o, adetail::id_t<T>* expected,
                                                  adetail::id_t<T> desired, memory_order succ,
                                                  memory_order fail) {
  (void)fail;
  return __atomic_compare_exchange(adetail::ptr(o), expected, &desired, false, succ,
                                   adetail::fail_order(succ));
}
template <class T>
inline bool atomic_compare_exchange_strong_explicit(volatile atomic<T>* o,
                                                    adetail::id_t<T>* expected,
                                                    adetail::id_t<T> desired, memory_order succ,
                                                    memory_order fail) {
  return atomic_compare_exchange_weak_explicit(o, expected, desired, succ, fail);
}

template <class T>
inline T atomic_fetch_add_explicit(volatile atomic<T>* o, adetail::id_t<T> v, memory_order order) {
  if constexpr (std::is_integral<T>::value)
    return __atomic_fetch_add(adetail::ptr(o), v, order);
  else
    return adetail::rmw(adetail::ptr(o), [v](T x) { return T(x + v); }, order);
}
template <class T>
inline T atomic_fetch_sub_explicit(volatile atomic<T>* o, adetail::id_t<T> v, memory_order order) {
  if constexpr (std::is_integral<T>::value)
    return __atomic_fetch_sub(adetail::ptr(o), v, order);
  else
    return adetail::rmw(adetail::ptr(o), [v](T x) { return T(x - v); }, order);
}
template <class T>
inline T atomic_fetch_and_explicit(volatile atomic<T>* o, adetail::id_t<T> v, memory_order order) {
  return __atomic_fetch_and(adetail::ptr(o), v, order);
}
template <class T>
inline T atomic_fetch_or_explicit(volatile atomic<T>* o, adetail::id_t<T> v, memory_order order) {
  return __atomic_fetch_or(adetail::ptr(o), v, order);
}
template <class T>
inline T atomic_fetch_xor_explicit(volatile atomic<T>* o, adetail::id_t<T> v, memory_order order) {
  return __atomic_fetch_xor(adetail::ptr(o), v, order);
}
template <class T>
inline T atomic_fetch_min_explicit(volatile atomic<T>* o, adetail::id_t<T> v, memory_order order) {
  return adetail::rmw(adetail::ptr(o), [v](T x) { return v < x ? v : x; }, order);
}
template <class T>
inline T atomic_fetch_max_explicit(volatile atomic<T>* o, adetail::id_t<T> v, memory_order order) {
  return adetail::rmw(adetail::ptr(o), [v](T x) { return x < v ? v : x; }, order);
}
// MSL 3.1 non-returning min/max on ulong
template <class T>
inline void atomic_min_explicit(volatile atomic<T>* o, adetail::id_t<T> v, memory_order order) {
  atomic_fetch_min_explicit(o, v, order);
}
template <class T>
inline void atomic_max_explicit(volatile atomic<T>* o, adetail::id_t<T> v, memory_order order) {
  atomic_fetch_max_explicit(o, v, order);
}

// atomic_thread_fence(flags, order[, scope]): a full fence on the host regardless of arguments.
template <class... Rest>
inline void atomic_thread_fence(Rest...) {
  __atomic_thread_fence(__ATOMIC_SEQ_CST);
}

}  // namespace metal

using metal::atomic_bool;
using metal::atomic_float;
using metal::atomic_int;
using metal::atomic_long;
using metal::atomic_uint;
using metal::atomic_ulong;
