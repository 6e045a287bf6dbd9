// Objective-C++ declarations shared by the Metal device's .mm files (ARC). Not for src/core: it
// includes metal_device.h, which is plain C++.
#pragma once

#import <Foundation/Foundation.h>
#import <Metal/Metal.h>

#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "metal_device.h"
#include "metallic/device.hpp"

namespace metallic::metal {

// --- helpers (metal_device.mm) ---------------------------------------------------------------
std::string to_std(NSString* s);
NSString* to_ns(const std::string& s);
/// The NSError's localizedDescription, or `fallback` when there is none.
std::string error_text(NSError* error, const char* fallback = "unknown error");
/// The environment variable `name`, or "" when unset.
std::string env(const char* name);

/// How command buffers measure GPU time (see metal_profiling.mm).
enum class TimestampMode {
  CommandBuffer,  // GPUEndTime - GPUStartTime of the whole command buffer
  Dispatch,       // counter samples before/after each dispatch (dispatch-boundary sampling)
  Encoder,        // one encoder per dispatch, sampled at its start/end (stage-boundary sampling)
};

/// What a device and the command buffers it made share; outlives both.
struct DeviceState {
  id<MTLDevice> device = nil;
  id<MTLCommandQueue> queue = nil;
  bool non_uniform_threadgroups = false;  // dispatchThreads: Apple4+/Mac2
  bool mps = false;                       // MPSSupportsMTLDevice (NO in virtual machines)
  bool error_detail = false;              // METALLIC_METAL_DEBUG=1: per-encoder error status
  TimestampMode timestamps = TimestampMode::CommandBuffer;
  id<MTLCounterSet> timestamp_counters = nil;
  id<MTLLibrary> builtin_metallib = nil;   // loaded once, shared by every builtin family
  NSMutableDictionary* mps_kernels = nil;  // MPSMatrixMultiplication by shape key
};

/// Throws DeviceError naming `what` (metal_device.mm) where the device has no Metal Performance
/// Shaders: without them MPS encodes nothing and the outputs keep whatever they held.
void require_mps(const DeviceState& state, const std::string& what);

// --- buffers, libraries, pipelines ------------------------------------------------------------
class MetalBuffer final : public Buffer {
 public:
  MetalBuffer(id<MTLBuffer> buffer, size_t length) : buffer_(buffer), length_(length) {}
  size_t length() const override { return length_; }
  void* contents() override { return [buffer_ contents]; }
  id<MTLBuffer> mtl() const { return buffer_; }

 private:
  id<MTLBuffer> buffer_;
  size_t length_;  // as requested; the allocation is at least 16 bytes
};

class MetalLibrary final : public Library {
 public:
  MetalLibrary(std::string name, id<MTLLibrary> library);
  const std::string& name() const override { return name_; }
  std::vector<std::string> function_names() const override;
  bool has_function(const std::string& name) const { return names_.count(name) != 0; }
  id<MTLLibrary> mtl() const { return library_; }

 private:
  std::string name_;
  id<MTLLibrary> library_;
  std::set<std::string> names_;
};

class MetalPipeline final : public Pipeline {
 public:
  MetalPipeline(std::string function, id<MTLComputePipelineState> state,
                std::vector<KernelArgument> arguments)
      : function_(std::move(function)), state_(state), arguments_(std::move(arguments)) {}
  const std::string& function_name() const override { return function_; }
  uint32_t max_total_threads_per_threadgroup() const override {
    return static_cast<uint32_t>(state_.maxTotalThreadsPerThreadgroup);
  }
  uint32_t thread_execution_width() const override {
    return static_cast<uint32_t>(state_.threadExecutionWidth);
  }
  size_t static_threadgroup_memory_length() const override {
    return state_.staticThreadgroupMemoryLength;
  }
  std::vector<KernelArgument> arguments() const override { return arguments_; }
  id<MTLComputePipelineState> mtl() const { return state_; }

 private:
  std::string function_;
  id<MTLComputePipelineState> state_;
  std::vector<KernelArgument> arguments_;  // from the pipeline's reflection (metal_pipeline.mm)
};

/// metal_library.mm: builtin (metallib or run-time sources) and user-source libraries.
LibraryPtr load_metal_library(DeviceState& state, const LibrarySource& source);
/// metal_pipeline.mm.
PipelinePtr make_metal_pipeline(DeviceState& state, const LibraryPtr& library,
                                const std::string& function, const FunctionConstants& constants);

// --- graphs (metal_graph.mm) ------------------------------------------------------------------
/// Lowers `graph` to an MPSGraph compiled to an MPSGraphExecutable (Device::compile_graph).
GraphExecutablePtr compile_metal_graph(DeviceState& state, const graph::Graph& graph);
/// Whether this OS has MPSGraph's fused scaled-dot-product attention (macOS 15+).
bool metal_graph_has_fused_attention();
class MetalCommandBuffer;
/// Encodes one execution of a compiled graph (CommandBuffer::encode_graph).
void encode_metal_graph(MetalCommandBuffer& command_buffer, const GraphCommand& command);

// --- profiling (metal_profiling.mm) -----------------------------------------------------------
/// GPU timestamps of one command buffer: counter sample buffers in chunks, resolved after
/// completion into per-dispatch durations.
class TimestampRecorder {
 public:
  struct Sample {
    int32_t chunk = -1;  // -1: not sampled
    uint32_t index = 0;  // start sample; the end sample is index + 1
  };
  TimestampRecorder(std::shared_ptr<DeviceState> state);
  TimestampMode mode() const { return mode_; }
  /// Dispatch mode: whether the current chunk is full (a new encoder must attach a new one).
  bool chunk_full() const;
  /// Configures a new encoder's pass: Dispatch mode attaches the current chunk (sampling inside
  /// a pass needs it attached); Encoder mode samples the pass's start and end into `*sample`.
  void prepare_pass(MTLComputePassDescriptor* pass, Sample* sample);
  /// Dispatch mode: samples before (begin) and after (end) one dispatch.
  Sample sample_begin(id<MTLComputeCommandEncoder> encoder);
  void sample_end(id<MTLComputeCommandEncoder> encoder, const Sample& sample);
  /// The sample buffers, to keep alive until the command buffer completes.
  NSArray* buffers() const { return chunks_; }
  /// Duration of each sample pair in seconds (negative where the GPU reported no value).
  std::vector<double> resolve(const std::vector<Sample>& samples) const;

 private:
  Sample reserve();

  std::shared_ptr<DeviceState> state_;
  TimestampMode mode_;
  NSMutableArray* chunks_ = nil;  // id<MTLCounterSampleBuffer>
  uint32_t used_ = 0;             // samples used in the last chunk
  MTLTimestamp cpu0_ = 0, gpu0_ = 0;
};

// --- command buffers (metal_command_buffer.mm) ------------------------------------------------
class MetalCommandBuffer final : public CommandBuffer {
 public:
  explicit MetalCommandBuffer(std::shared_ptr<DeviceState> state);
  ~MetalCommandBuffer() override;
  void encode_dispatch(DispatchCommand&& command) override;
  void encode_matmul(const MatmulCommand& command) override { encode_mps_matmul(*this, command); }
  void encode_graph(GraphCommand&& command) override { encode_metal_graph(*this, command); }
  void commit() override;
  void wait() override;
  bool is_completed() const override;
  std::vector<DispatchTiming> timings() const override;

  /// For work that encodes its own passes (MPS): ends the open compute encoder, records `label`
  /// as one (unsampled) timing entry and returns the native command buffer.
  id<MTLCommandBuffer> begin_external_pass(const std::string& label);
  /// After an external pass: MPS committed the command buffer and continued in `root`
  /// (MPSCommandBuffer commitAndContinue), so later work goes there. Does nothing for the same one.
  void continue_in(id<MTLCommandBuffer> root);
  void keep_alive(BufferPtr buffer) { buffers_.push_back(std::move(buffer)); }
  void keep_alive(id object) { [objects_ addObject:object]; }
  DeviceState& state() { return *state_; }

 private:
  struct Entry {
    std::string label;
    TimestampRecorder::Sample sample;
  };
  void check_open(const char* what) const;
  void validate(const DispatchCommand& command, const MetalPipeline& pipeline) const;
  id<MTLComputeCommandEncoder> open_encoder(const std::string& label,
                                            TimestampRecorder::Sample* pass_sample);
  void end_encoder();
  std::string describe_failure(id<MTLCommandBuffer> failed) const;

  std::shared_ptr<DeviceState> state_;
  id<MTLCommandBuffer> cb_ = nil;                       // the one being encoded
  std::vector<id<MTLCommandBuffer>> committed_by_mps_;  // earlier parts of this one, in order
  id<MTLComputeCommandEncoder> encoder_ = nil;
  TimestampRecorder recorder_;
  std::vector<Entry> entries_;      // every dispatch / external pass, in order
  std::vector<BufferPtr> buffers_;  // bound buffers: alive until completion
  std::vector<PipelinePtr> pipelines_;
  NSMutableArray* objects_ = nil;  // other objects the GPU work needs (MPS kernels, ...)
  bool committed_ = false;
};

}  // namespace metallic::metal
