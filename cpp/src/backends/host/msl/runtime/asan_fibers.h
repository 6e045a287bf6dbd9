// Private to the runtime: telling AddressSanitizer about fiber stacks (METALLIC_SANITIZE builds;
// everything here compiles to nothing otherwise).
//
// ASan tracks one stack per OS thread. Without these calls it takes a fiber's stack for the
// thread's own, so a C++ exception thrown on a fiber cannot clean up the frames it unwinds
// ("ASan is ignoring requested __asan_handle_no_return"), and frames that are abandoned rather
// than returned from (a finished fiber switches away for good; a failure abandons the waiting
// fibers) leave their red zones poisoned on a stack the next threadgroup reuses: false reports.
#pragma once

#include <cstddef>

#if defined(__SANITIZE_ADDRESS__)
#define MTLH_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MTLH_ASAN 1
#endif
#endif

#ifdef MTLH_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif

#pragma GCC visibility push(hidden)

namespace metal_host::rt::impl {

/// A stack region, as ASan's fiber interface describes one.
struct AsanStack {
  const void* bottom = nullptr;
  size_t size = 0;
};

/// Before switching to `to`: `fake` keeps this context's fake stack (null: it never resumes).
inline void asan_start_switch(void** fake, AsanStack to) {
#ifdef MTLH_ASAN
  __sanitizer_start_switch_fiber(fake, to.bottom, to.size);
#else
  (void)fake, (void)to;
#endif
}

/// First thing after a switch lands in a context; returns the stack switched away from.
inline AsanStack asan_finish_switch(void* fake) {
  AsanStack from;
#ifdef MTLH_ASAN
  __sanitizer_finish_switch_fiber(fake, &from.bottom, &from.size);
#else
  (void)fake;
#endif
  return from;
}

/// Clears the poison that abandoned frames left in [begin, end).
inline void asan_unpoison(const void* begin, const void* end) {
#ifdef MTLH_ASAN
  if (end > begin) {
    ASAN_UNPOISON_MEMORY_REGION(begin,
                                static_cast<const char*>(end) - static_cast<const char*>(begin));
  }
#else
  (void)begin, (void)end;
#endif
}

}  // namespace metal_host::rt::impl

#pragma GCC visibility pop
