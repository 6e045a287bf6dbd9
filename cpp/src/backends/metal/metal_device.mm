// The Metal device: the system default MTLDevice, one command queue, shared-storage buffers.
// Libraries, pipelines, command buffers and profiling live in their own files.

#import <MetalPerformanceShaders/MetalPerformanceShaders.h>

#include <unistd.h>

#include <cstdlib>
#include <sstream>

#include "metal_internal.h"
#include "metallic/error.hpp"

namespace metallic::metal {

std::string to_std(NSString* s) {
  return s ? std::string([s UTF8String]) : std::string();
}

NSString* to_ns(const std::string& s) {
  return [NSString stringWithUTF8String:s.c_str()];
}

std::string error_text(NSError* error, const char* fallback) {
  return error ? to_std(error.localizedDescription) : std::string(fallback);
}

std::string env(const char* name) {
  const char* value = std::getenv(name);
  return value ? std::string(value) : std::string();
}

void require_mps(const DeviceState& state, const std::string& what) {
  if (state.mps) return;
  throw DeviceError(what + ": this Metal device (" + to_std(state.device.name) +
                    ") does not support Metal Performance Shaders (MPSSupportsMTLDevice is NO, as "
                    "on the paravirtualized GPU of a virtual machine); use the host device "
                    "(device=\"host\") or a Mac's own GPU");
}

namespace {

// The highest Apple GPU family the device supports ("apple9", ...), for info() and bug reports.
std::string apple_family(id<MTLDevice> device) {
  struct Family {
    MTLGPUFamily family;
    const char* name;
  };
  static const Family families[] = {
      {MTLGPUFamilyApple9, "apple9"}, {MTLGPUFamilyApple8, "apple8"},
      {MTLGPUFamilyApple7, "apple7"}, {MTLGPUFamilyApple6, "apple6"},
      {MTLGPUFamilyApple5, "apple5"}, {MTLGPUFamilyApple4, "apple4"},
  };
  for (const Family& f : families) {
    if ([device supportsFamily:f.family]) return f.name;
  }
  return "none";
}

std::string size3(MTLSize s) {
  std::ostringstream out;
  out << s.width << "x" << s.height << "x" << s.depth;
  return out.str();
}

// Per-dispatch timestamps where the GPU can sample between dispatches (not Apple silicon);
// METALLIC_METAL_TIMESTAMPS=encoder trades one encoder per dispatch for per-dispatch times there.
TimestampMode choose_timestamps(DeviceState& s) {
  for (id<MTLCounterSet> set in s.device.counterSets) {
    if ([set.name isEqualToString:MTLCommonCounterSetTimestamp]) s.timestamp_counters = set;
  }
  if (!s.timestamp_counters || env("METALLIC_METAL_TIMESTAMPS") == "0") {
    return TimestampMode::CommandBuffer;
  }
  if ([s.device supportsCounterSampling:MTLCounterSamplingPointAtDispatchBoundary]) {
    return TimestampMode::Dispatch;
  }
  if (env("METALLIC_METAL_TIMESTAMPS") == "encoder" &&
      [s.device supportsCounterSampling:MTLCounterSamplingPointAtStageBoundary]) {
    return TimestampMode::Encoder;
  }
  return TimestampMode::CommandBuffer;
}

const char* timestamp_mode_name(TimestampMode m) {
  switch (m) {
    case TimestampMode::Dispatch:
      return "dispatch";
    case TimestampMode::Encoder:
      return "encoder";
    case TimestampMode::CommandBuffer:
      break;
  }
  return "command_buffer";
}

class MetalDevice final : public Device {
 public:
  explicit MetalDevice(std::shared_ptr<DeviceState> state) : state_(std::move(state)) {}

  DeviceKind kind() const override { return DeviceKind::Metal; }
  std::string name() const override { return to_std(state_->device.name); }

  std::map<std::string, std::string> info() const override {
    @autoreleasepool {
      id<MTLDevice> d = state_->device;
      std::map<std::string, std::string> out;
      out["device"] = "metal";
      out["name"] = to_std(d.name);
      out["architecture"] = to_std(d.architecture.name);  // macOS 14+, the minimum
      out["gpu_family"] = apple_family(d);
      out["metal3"] = [d supportsFamily:MTLGPUFamilyMetal3] ? "yes" : "no";
      out["mps"] = state_->mps ? "yes" : "no";
      out["mpsgraph_fused_attention"] = metal_graph_has_fused_attention() ? "yes" : "no";
      out["max_threads_per_threadgroup"] = size3(d.maxThreadsPerThreadgroup);
      out["max_threadgroup_memory_length"] = std::to_string(d.maxThreadgroupMemoryLength);
      out["max_buffer_length"] = std::to_string(d.maxBufferLength);
      out["recommended_max_working_set_size"] = std::to_string(d.recommendedMaxWorkingSetSize);
      out["current_allocated_size"] = std::to_string(d.currentAllocatedSize);
      out["has_unified_memory"] = d.hasUnifiedMemory ? "yes" : "no";
      out["non_uniform_threadgroups"] = state_->non_uniform_threadgroups ? "yes" : "no";
      out["timestamps"] = timestamp_mode_name(state_->timestamps);
      out["os"] = to_std([[NSProcessInfo processInfo] operatingSystemVersionString]);
      return out;
    }
  }

  BufferPtr allocate(size_t bytes) override {
    @autoreleasepool {
      if (bytes > state_->device.maxBufferLength) {
        throw DeviceError("cannot allocate " + std::to_string(bytes) +
                          " bytes: the Metal device's maxBufferLength is " +
                          std::to_string(state_->device.maxBufferLength));
      }
      // Shared storage: the CPU and GPU see the same memory, so numpy views are zero-copy. A
      // zero-length request still gets a real buffer, so every tensor has a bindable MTLBuffer.
      size_t length = bytes < 16 ? 16 : bytes;
      id<MTLBuffer> buffer = [state_->device newBufferWithLength:length
                                                         options:MTLResourceStorageModeShared];
      if (!buffer) {
        throw DeviceError("the Metal device could not allocate " + std::to_string(bytes) +
                          " bytes (out of memory?)");
      }
      return std::make_shared<MetalBuffer>(buffer, bytes);
    }
  }

  // Zero-copy where Metal can map the memory: newBufferWithBytesNoCopy: needs a page-aligned
  // address and whole pages, so the length is rounded up to the page the memory ends in (as
  // executorch MPSExecutor.mm maps host tensors); the buffer keeps `owner` until Metal releases
  // it. Any other memory is copied by the caller (nullptr).
  BufferPtr wrap_host_memory(void* data, size_t length, std::shared_ptr<void> owner) override {
    @autoreleasepool {
      const size_t page = static_cast<size_t>(getpagesize());
      if (length == 0 || reinterpret_cast<uintptr_t>(data) % page != 0) return nullptr;
      const size_t mapped = (length + page - 1) / page * page;
      if (mapped > state_->device.maxBufferLength) return nullptr;
      id<MTLBuffer> buffer =
          [state_->device newBufferWithBytesNoCopy:data
                                            length:mapped
                                           options:MTLResourceStorageModeShared
                                       deallocator:^(void*, NSUInteger) {
                                         (void)owner;  // captured: released with the buffer
                                       }];
      if (!buffer) return nullptr;
      return std::make_shared<MetalBuffer>(buffer, length);
    }
  }

  LibraryPtr load_library(const LibrarySource& source) override {
    return load_metal_library(*state_, source);
  }

  PipelinePtr make_pipeline(const LibraryPtr& library, const std::string& function,
                            const FunctionConstants& constants) override {
    return make_metal_pipeline(*state_, library, function, constants);
  }

  CommandBufferPtr new_command_buffer() override {
    return std::make_shared<MetalCommandBuffer>(state_);
  }

  GraphExecutablePtr compile_graph(const graph::Graph& graph) override {
    return compile_metal_graph(*state_, graph);
  }

  bool graph_has_fused_attention() const override { return metal_graph_has_fused_attention(); }

  void capture_begin(const std::string& path) override { metal::capture_begin(path); }
  void capture_end() override { metal::capture_end(); }

 private:
  std::shared_ptr<DeviceState> state_;
};

}  // namespace
}  // namespace metallic::metal

namespace metallic {

std::unique_ptr<Device> create_metal_device(const DeviceOptions& /*options*/) {
  @autoreleasepool {
    auto state = std::make_shared<metal::DeviceState>();
    state->device = MTLCreateSystemDefaultDevice();
    if (!state->device) {
      throw DeviceError(
          "no Metal device: MTLCreateSystemDefaultDevice() returned nil (no GPU, or a virtual "
          "machine without Metal). Use device=\"host\" (METALLIC_DEVICE=host).");
    }
    // One queue per device object, i.e. per Context: contexts never wait on each other's work.
    state->queue = [state->device newCommandQueue];
    if (!state->queue) throw DeviceError("the Metal device could not create a command queue");
    state->queue.label = @"metallic";
    state->non_uniform_threadgroups = [state->device supportsFamily:MTLGPUFamilyApple4] ||
                                      [state->device supportsFamily:MTLGPUFamilyMac2];
    state->mps = MPSSupportsMTLDevice(state->device);
    state->error_detail = metal::env("METALLIC_METAL_DEBUG") == "1";
    state->timestamps = metal::choose_timestamps(*state);
    state->mps_kernels = [NSMutableDictionary dictionary];
    return std::make_unique<metal::MetalDevice>(std::move(state));
  }
}

}  // namespace metallic
