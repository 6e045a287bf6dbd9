// Emulated MSL: mem_flags / thread_scope enums (shared by the stdlib emulation and the runtime,
// which implements threadgroup_barrier(mem_flags) itself).
#pragma once

namespace metal {

enum class mem_flags : unsigned {
  mem_none = 0,
  mem_device = 1,
  mem_threadgroup = 2,
  mem_texture = 4,
  mem_threadgroup_imageblock = 8,
  mem_object_data = 16,
};
constexpr mem_flags operator|(mem_flags a, mem_flags b) {
  return mem_flags(unsigned(a) | unsigned(b));
}
constexpr mem_flags operator&(mem_flags a, mem_flags b) {
  return mem_flags(unsigned(a) & unsigned(b));
}

// Unscoped so both `thread_scope_device` and `thread_scope::thread_scope_device` work.
enum thread_scope : unsigned {
  thread_scope_thread = 0,
  thread_scope_simdgroup = 1,
  thread_scope_threadgroup = 2,
  thread_scope_device = 3,
};

}  // namespace metal
