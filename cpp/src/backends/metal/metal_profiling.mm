// GPU timing and Xcode captures.
//
// Timing modes (chosen per device in metal_device.mm, reported by info()["timestamps"]):
// - dispatch: the GPU samples its timestamp counter before and after every dispatch
//   (MTLCounterSamplingPointAtDispatchBoundary; AMD/Intel Macs, not Apple silicon).
// - encoder: METALLIC_METAL_TIMESTAMPS=encoder on GPUs that sample only at pass boundaries
//   (Apple silicon): one compute pass per dispatch, sampled at its start and end. Costs an
//   encoder per dispatch, so it is opt-in.
// - command_buffer: GPUEndTime - GPUStartTime of the whole command buffer, labelled with the
//   labels of its dispatches. With METALLIC_COMMIT_DISPATCHES=1 that is per dispatch too.

#include "metal_internal.h"
#include "metallic/error.hpp"

namespace metallic::metal {
namespace {

constexpr uint32_t kSamplesPerChunk = 128;  // 64 dispatches: the default commit policy

}  // namespace

TimestampRecorder::TimestampRecorder(std::shared_ptr<DeviceState> state)
    : state_(std::move(state)), mode_(state_->timestamps) {
  // Its own pool: the recorder is built before the body (and pool) of its command buffer's
  // constructor runs.
  @autoreleasepool {
    chunks_ = [[NSMutableArray alloc] init];
    if (mode_ != TimestampMode::CommandBuffer) {
      [state_->device sampleTimestamps:&cpu0_ gpuTimestamp:&gpu0_];
    }
  }
}

bool TimestampRecorder::chunk_full() const {
  return chunks_.count == 0 || used_ + 2 > kSamplesPerChunk;
}

TimestampRecorder::Sample TimestampRecorder::reserve() {
  Sample s;
  s.chunk = static_cast<int32_t>(chunks_.count) - 1;
  s.index = used_;
  used_ += 2;
  return s;
}

void TimestampRecorder::prepare_pass(MTLComputePassDescriptor* pass, Sample* sample) {
  if (mode_ == TimestampMode::CommandBuffer) return;
  if (chunk_full()) {
    MTLCounterSampleBufferDescriptor* desc = [[MTLCounterSampleBufferDescriptor alloc] init];
    desc.counterSet = state_->timestamp_counters;
    desc.storageMode = MTLStorageModeShared;
    desc.sampleCount = kSamplesPerChunk;
    desc.label = @"metallic timestamps";
    NSError* error = nil;
    id<MTLCounterSampleBuffer> chunk = [state_->device newCounterSampleBufferWithDescriptor:desc
                                                                                      error:&error];
    if (!chunk) {
      // Timing must never break execution: fall back to whole-command-buffer timing.
      NSLog(@"metallic: no counter sample buffer (%@); timing whole command buffers",
            error.localizedDescription);
      mode_ = TimestampMode::CommandBuffer;
      return;
    }
    [chunks_ addObject:chunk];
    used_ = 0;
  }
  MTLComputePassSampleBufferAttachmentDescriptor* attachment = pass.sampleBufferAttachments[0];
  attachment.sampleBuffer = chunks_.lastObject;
  if (mode_ == TimestampMode::Encoder) {
    *sample = reserve();
    attachment.startOfEncoderSampleIndex = sample->index;
    attachment.endOfEncoderSampleIndex = sample->index + 1;
  } else {
    // Dispatch mode samples inside the pass; the buffer only has to be attached.
    attachment.startOfEncoderSampleIndex = MTLCounterDontSample;
    attachment.endOfEncoderSampleIndex = MTLCounterDontSample;
  }
}

TimestampRecorder::Sample TimestampRecorder::sample_begin(id<MTLComputeCommandEncoder> encoder) {
  Sample s = reserve();
  [encoder sampleCountersInBuffer:chunks_[s.chunk] atSampleIndex:s.index withBarrier:YES];
  return s;
}

void TimestampRecorder::sample_end(id<MTLComputeCommandEncoder> encoder, const Sample& s) {
  [encoder sampleCountersInBuffer:chunks_[s.chunk] atSampleIndex:s.index + 1 withBarrier:YES];
}

std::vector<double> TimestampRecorder::resolve(const std::vector<Sample>& samples) const {
  std::vector<double> out(samples.size(), -1.0);
  if (chunks_.count == 0) return out;
  // GPU ticks -> seconds from two (CPU ns, GPU tick) pairs: one taken when the command buffer
  // was created, one now (Apple's "Converting GPU timestamps into CPU time").
  MTLTimestamp cpu1 = 0, gpu1 = 0;
  [state_->device sampleTimestamps:&cpu1 gpuTimestamp:&gpu1];
  double ns_per_tick =
      (gpu1 > gpu0_ && cpu1 > cpu0_) ? double(cpu1 - cpu0_) / double(gpu1 - gpu0_) : 1.0;
  std::vector<NSData*> resolved;
  for (NSUInteger i = 0; i < chunks_.count; ++i) {
    id<MTLCounterSampleBuffer> chunk = chunks_[i];
    NSUInteger count = (i + 1 == chunks_.count) ? used_ : kSamplesPerChunk;
    resolved.push_back(count ? [chunk resolveCounterRange:NSMakeRange(0, count)] : nil);
  }
  for (size_t i = 0; i < samples.size(); ++i) {
    const Sample& s = samples[i];
    if (s.chunk < 0 || s.chunk >= int32_t(resolved.size()) || !resolved[s.chunk]) continue;
    NSData* data = resolved[s.chunk];
    if (data.length < (s.index + 2) * sizeof(MTLCounterResultTimestamp)) continue;
    auto* ts = static_cast<const MTLCounterResultTimestamp*>(data.bytes);
    uint64_t begin = ts[s.index].timestamp, end = ts[s.index + 1].timestamp;
    if (begin == MTLCounterErrorValue || end == MTLCounterErrorValue || end < begin) continue;
    out[i] = double(end - begin) * ns_per_tick * 1e-9;
  }
  return out;
}

void capture_begin(const std::string& path) {
  @autoreleasepool {
    MTLCaptureManager* manager = [MTLCaptureManager sharedCaptureManager];
    if (![manager supportsDestination:MTLCaptureDestinationGPUTraceDocument]) {
      throw DeviceError("GPU capture to a file is disabled: set MTL_CAPTURE_ENABLED=1 in the "
                        "environment before starting the process");
    }
    if (manager.isCapturing) throw DeviceError("a GPU capture is already running");
    MTLCaptureDescriptor* desc = [[MTLCaptureDescriptor alloc] init];
    // MTLCreateSystemDefaultDevice returns the same object every metal device uses.
    desc.captureObject = MTLCreateSystemDefaultDevice();
    desc.destination = MTLCaptureDestinationGPUTraceDocument;
    desc.outputURL = [NSURL fileURLWithPath:to_ns(path)];
    NSError* error = nil;
    if (![manager startCaptureWithDescriptor:desc error:&error]) {
      throw DeviceError("cannot start a GPU capture to " + path + ": " + error_text(error) +
                        " (the path must end in .gputrace and must not exist yet)");
    }
  }
}

void capture_end() {
  @autoreleasepool {
    MTLCaptureManager* manager = [MTLCaptureManager sharedCaptureManager];
    if (manager.isCapturing) [manager stopCapture];
  }
}

}  // namespace metallic::metal
