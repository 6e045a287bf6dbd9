// First line of every translated kernel library: the emulated metal_stdlib, the launcher
// runtime, the argument binding of generated launchers, then MSL's keywords as macros (last, so
// that no header included above sees them).
#pragma once

#include <metal_stdlib>
#include <tuple>
#include <type_traits>

#include "metal/runtime/launch.h"
#include "metallic_host_abi.h"
#ifdef METALLIC_HOST_CHECKS  // the checked translation (debug checks): checked pointers, arrays
#include "metal/runtime/checks.h"
#endif

namespace metal_host {

/// [[buffer(I)]]: the bound pointer (base + offset) or inline bytes, as the parameter's type.
template <uint32_t I>
struct BufferArg {
  template <class P>
  P get(const mtlh_dispatch* d, const ThreadIds&, ThreadgroupState&) const {
    if constexpr (std::is_pointer_v<P>) {
      return (P)(d->buffers[I]);
    } else if constexpr (std::is_reference_v<P>) {
      return *(std::remove_reference_t<P>*)(d->buffers[I]);
    } else {
      return *(const P*)(d->buffers[I]);
    }
  }
};

/// [[threadgroup(I)]]: this threadgroup's block of the length the encoder set.
template <uint32_t I>
struct ThreadgroupArg {
  template <class P>
  P get(const mtlh_dispatch*, const ThreadIds&, ThreadgroupState& g) const {
    return (P)(g.threadgroup_buffers[I]);
  }
};

/// `static_cast<T>(x)` in kernel code (the translator's rewrite): the same, except that half and
/// bfloat convert to each other, as in MSL (see metal::detail::scalar_cast).
template <class T, class U>
constexpr T msl_static_cast(U&& u) {
  using From = std::remove_cv_t<std::remove_reference_t<U>>;
  using To = std::remove_cv_t<T>;
  if constexpr ((std::is_same_v<From, half> && std::is_same_v<To, bfloat>) ||
                (std::is_same_v<From, bfloat> && std::is_same_v<To, half>)) {
    return ::metal::detail::scalar_cast<To>(u);
  } else {
    return static_cast<T>(static_cast<U&&>(u));
  }
}

/// [[buffer(I), function_constant(c)]]: `Spec` (BufferArg<I>, or CheckedBufferArg<I> with host
/// checks) while enabled() (the constant) is true, else bound to rt::unbound_buffer.
template <class Spec, uint32_t I, class Enabled>
struct GuardedArg {
  Enabled enabled;
  template <class P>
  P get(const mtlh_dispatch* d, const ThreadIds& ids, ThreadgroupState& g) const {
    if (enabled()) return Spec{}.template get<P>(d, ids, g);
    void* buffers[I + 1] = {};
    uint64_t lengths[I + 1] = {};
    buffers[I] = const_cast<void*>(rt::unbound_buffer(&lengths[I]));
    mtlh_dispatch unbound = *d;
    unbound.buffers = buffers;
    unbound.buffer_lengths = lengths;
    unbound.num_buffers = I + 1;
    unbound.inline_bytes_mask = 0;
    return Spec{}.template get<P>(&unbound, ids, g);
  }
};
template <class Spec, uint32_t I, class Enabled>
inline GuardedArg<Spec, I, Enabled> guarded(Enabled enabled) {
  return {enabled};
}

/// A builtin attribute value, converted to the parameter's type (uint, ushort2, uint3, ...).
template <class V>
struct BuiltinArg {
  V value;
  template <class P>
  P get(const mtlh_dispatch*, const ThreadIds&, ThreadgroupState&) const {
    return builtin<std::decay_t<P>>(value);
  }
};
template <class V>
inline BuiltinArg<V> builtin_arg(V value) {
  return {value};
}

template <class F>
struct KernelSignature;
template <class... P>
struct KernelSignature<void (*)(P...)> {
  using Params = std::tuple<P...>;
};

template <auto Fn, class... P, class... Specs>
inline void invoke_with(std::tuple<P...>*, const mtlh_dispatch* d, const ThreadIds& ids,
                        ThreadgroupState& g, const Specs&... specs) {
  static_assert(sizeof...(P) == sizeof...(Specs), "kernel parameter count mismatch");
  Fn(specs.template get<P>(d, ids, g)...);
}

/// Calls kernel `Fn` with each parameter bound as its attribute says.
template <auto Fn, class... Specs>
inline void invoke_kernel(const mtlh_dispatch* d, const ThreadIds& ids, ThreadgroupState& g,
                          const Specs&... specs) {
  using Params = typename KernelSignature<decltype(Fn)>::Params;
  invoke_with<Fn>(static_cast<Params*>(nullptr), d, ids, g, specs...);
}

}  // namespace metal_host

#define device
#define constant const
#define thread
#define threadgroup
#define kernel
#define METAL_FUNC inline
