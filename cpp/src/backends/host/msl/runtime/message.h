// Private to the runtime: error messages written into fixed buffers (KernelFault::message, the
// caller's error buffer).
#pragma once

#include <algorithm>
#include <cstdarg>
#include <cstddef>
#include <cstdio>

#include "metal/runtime/launch.h"

#pragma GCC visibility push(hidden)

namespace metal_host::rt::impl {

inline void format_pos(char* buf, size_t n, Dim3 p) {
  std::snprintf(buf, n, "(%u,%u,%u)", p.x, p.y, p.z);
}

/// Appends printf output to a bounded buffer.
struct Msg {
  char* buf;
  size_t cap;
  size_t len = 0;
  Msg(char* b, size_t c) : buf(b), cap(c) {
    if (cap) buf[0] = 0;
  }
  void add(const char* fmt, ...) __attribute__((format(printf, 2, 3))) {
    if (len + 1 >= cap) return;
    va_list ap;
    va_start(ap, fmt);
    int w = std::vsnprintf(buf + len, cap - len, fmt, ap);
    va_end(ap);
    if (w > 0) len = std::min(cap - 1, len + size_t(w));
  }
};

}  // namespace metal_host::rt::impl

#pragma GCC visibility pop
