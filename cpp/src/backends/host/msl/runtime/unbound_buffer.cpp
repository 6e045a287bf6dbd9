// The memory a [[buffer(i), function_constant(c)]] parameter points to while c is false.
#include <sys/mman.h>

#include "metal/runtime/exec.h"

namespace metal_host {
namespace rt {

const void* unbound_buffer(uint64_t* bytes) {
  constexpr uint64_t kBytes = 64 * 1024;
  // Read-only zeros: a read sees 0, a write faults (a DeviceError), and nothing the kernel does
  // can change what the next reader sees. Mapped once per library, never unmapped.
  static const void* zeros = [] {
    void* p = mmap(nullptr, kBytes, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? nullptr : p;
  }();
  *bytes = zeros ? kBytes : 0;
  return zeros;
}

}  // namespace rt
}  // namespace metal_host
