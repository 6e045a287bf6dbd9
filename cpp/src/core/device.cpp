#include "metallic/device.hpp"

#include <chrono>
#include <thread>

#include "metallic/error.hpp"

#ifdef METALLIC_HAVE_METAL
#include "backends/metal/metal_device.h"
#endif

namespace metallic {

namespace host {
std::unique_ptr<Device> create_host_device(const DeviceOptions& options);
}

bool CommandBuffer::wait_for(double seconds) {
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  const auto deadline = start + std::chrono::duration<double>(seconds);
  // Short work finishes while spinning; after 50 us, sleep between polls.
  while (!is_completed()) {
    const auto now = Clock::now();
    if (now >= deadline) return false;
    if (now - start < std::chrono::microseconds(50)) {
      std::this_thread::yield();
    } else {
      std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
  }
  wait();
  return true;
}

void Device::capture_begin(const std::string& path) {
  throw DeviceError("GPU capture (" + path + ") needs the Metal device; this context runs on " +
                    name());
}

BufferPtr Device::wrap_host_memory(void*, size_t, std::shared_ptr<void>) {
  return nullptr;
}

std::vector<std::string> available_devices() {
#ifdef METALLIC_HAVE_METAL
  return {"host", "metal"};
#else
  return {"host"};
#endif
}

std::unique_ptr<Device> create_device(const std::string& name, const DeviceOptions& options) {
  if (name == "host") return host::create_host_device(options);
#ifdef METALLIC_HAVE_METAL
  if (name == "metal") return create_metal_device(options);
#endif
  if (name == "metal") {
    throw DeviceError(
        "the Metal device is not available in this build (it needs macOS on Apple "
        "silicon); use device=\"host\" or \"auto\"");
  }
  throw DeviceError("unknown device '" + name + "': use \"auto\", \"host\" or \"metal\"");
}

}  // namespace metallic
