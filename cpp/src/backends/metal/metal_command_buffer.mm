// One metallic CommandBuffer = one MTLCommandBuffer with one compute encoder kept open across
// consecutive dispatches.
//
// Ordering: encoders are *serial* (MTLDispatchTypeSerial), so every dispatch sees the writes of
// the dispatches before it. A concurrent encoder with memoryBarrierWithScope: would let
// independent dispatches overlap, but a Binding does not say whether a buffer is read or written,
// so we would have to fence on every shared buffer (read-read included) — in a transformer
// almost every dispatch consumes its predecessor's output anyway, and a missed barrier is a
// silent race. Serial is correct by construction; across encoders (after an MPS pass) Metal's
// hazard tracking of our tracked buffers orders the work.
//
// An MPSGraph execution may commit the MTLCommandBuffer early and continue in a new one on the
// same queue (MPSCommandBuffer commitAndContinue): this object then encodes into the new one and
// waits for, reports errors of and times all of them; the queue runs them in order.
//
// Lifetime: command buffers are created with unretained references (no per-resource retain on
// every setBuffer:), so this object keeps every bound buffer and pipeline and the completion
// handler holds them until the GPU is done, even if the CommandBuffer is dropped earlier.

#include <algorithm>
#include <sstream>

#include "metal_internal.h"
#include "metallic/error.hpp"

namespace metallic::metal {
namespace {

constexpr size_t kMaxInlineBytes = 4096;  // setBytes:length:atIndex: limit
constexpr uint32_t kMaxBufferIndex = 31;  // buffer argument table entries per stage

std::string size3(const Size3& s) {
  return std::to_string(s[0]) + "x" + std::to_string(s[1]) + "x" + std::to_string(s[2]);
}

MTLSize mtl_size(const Size3& s) {
  return MTLSizeMake(s[0], s[1], s[2]);
}

}  // namespace

MetalCommandBuffer::MetalCommandBuffer(std::shared_ptr<DeviceState> state)
    : state_(std::move(state)), recorder_(state_) {
  @autoreleasepool {
    MTLCommandBufferDescriptor* desc = [[MTLCommandBufferDescriptor alloc] init];
    desc.retainedReferences = NO;
    if (state_->error_detail) desc.errorOptions = MTLCommandBufferErrorOptionEncoderExecutionStatus;
    cb_ = [state_->queue commandBufferWithDescriptor:desc];
    if (!cb_) throw DeviceError("the Metal command queue could not create a command buffer");
    objects_ = [NSMutableArray array];
  }
}

MetalCommandBuffer::~MetalCommandBuffer() {
  // An encoder must be ended before its command buffer goes away, committed or not.
  if (encoder_) [encoder_ endEncoding];
}

void MetalCommandBuffer::check_open(const char* what) const {
  if (committed_) {
    throw DeviceError(std::string("cannot ") + what + ": the command buffer was already committed");
  }
}

void MetalCommandBuffer::validate(const DispatchCommand& c, const MetalPipeline& p) const {
  const std::string where = "dispatch '" + c.label + "' (" + p.function_name() + "): ";
  const Size3& tg = c.threadgroup;
  if (tg[0] == 0 || tg[1] == 0 || tg[2] == 0) {
    throw ArgumentError(where + "threadgroup " + size3(tg) + " has an empty dimension");
  }
  uint64_t threads = uint64_t(tg[0]) * tg[1] * tg[2];
  if (threads > p.max_total_threads_per_threadgroup()) {
    throw ArgumentError(where + "threadgroup " + size3(tg) + " has " + std::to_string(threads) +
                        " threads, more than this pipeline's maxTotalThreadsPerThreadgroup (" +
                        std::to_string(p.max_total_threads_per_threadgroup()) +
                        "); size threadgroups from Pipeline::max_total_threads_per_threadgroup()");
  }
  MTLSize max = state_->device.maxThreadsPerThreadgroup;
  if (tg[0] > max.width || tg[1] > max.height || tg[2] > max.depth) {
    throw ArgumentError(where + "threadgroup " + size3(tg) + " exceeds the device limit " +
                        std::to_string(max.width) + "x" + std::to_string(max.height) + "x" +
                        std::to_string(max.depth));
  }
  if (c.mode == DispatchMode::Threads && !state_->non_uniform_threadgroups) {
    throw DeviceError(where + "this GPU cannot dispatch partial threadgroups (dispatchThreads "
                              "needs GPU family Apple4 or Mac2); use whole threadgroups");
  }
  size_t tg_memory = p.static_threadgroup_memory_length();
  for (const auto& [index, length] : c.threadgroup_memory) {
    if (index >= kMaxBufferIndex) {
      throw ArgumentError(where + "threadgroup memory index " + std::to_string(index) +
                          " is out of range (0..30)");
    }
    tg_memory += (length + 15) / 16 * 16;
  }
  if (tg_memory > state_->device.maxThreadgroupMemoryLength) {
    throw ArgumentError(where + "needs " + std::to_string(tg_memory) +
                        " bytes of threadgroup memory; the device has " +
                        std::to_string(state_->device.maxThreadgroupMemoryLength));
  }
  for (const Binding& b : c.bindings) {
    if (b.index >= kMaxBufferIndex) {
      throw ArgumentError(where + "buffer index " + std::to_string(b.index) +
                          " is out of range (0..30)");
    }
    if (!b.buffer) {
      if (b.bytes.empty() || b.bytes.size() > kMaxInlineBytes) {
        throw ArgumentError(where + "inline bytes at index " + std::to_string(b.index) +
                            " must be 1.." + std::to_string(kMaxInlineBytes) + " bytes, not " +
                            std::to_string(b.bytes.size()) + "; pass larger data in a buffer");
      }
    } else if (!dynamic_cast<MetalBuffer*>(b.buffer.get())) {
      throw ArgumentError(where + "buffer at index " + std::to_string(b.index) +
                          " was not allocated by the Metal device");
    } else if (b.offset > b.buffer->length()) {
      throw ArgumentError(where + "offset " + std::to_string(b.offset) + " at index " +
                          std::to_string(b.index) + " is past the end of its " +
                          std::to_string(b.buffer->length()) + "-byte buffer");
    }
  }
}

id<MTLComputeCommandEncoder> MetalCommandBuffer::open_encoder(
    const std::string& label, TimestampRecorder::Sample* pass_sample) {
  if (encoder_) return encoder_;
  MTLComputePassDescriptor* pass = [MTLComputePassDescriptor computePassDescriptor];
  pass.dispatchType = MTLDispatchTypeSerial;  // see the top of this file
  recorder_.prepare_pass(pass, pass_sample);
  encoder_ = [cb_ computeCommandEncoderWithDescriptor:pass];
  if (!encoder_) throw DeviceError("the Metal command buffer could not open a compute encoder");
  encoder_.label = to_ns(label);  // the first dispatch names the encoder in GPU captures
  return encoder_;
}

void MetalCommandBuffer::end_encoder() {
  if (!encoder_) return;
  [encoder_ endEncoding];
  encoder_ = nil;
}

void MetalCommandBuffer::encode_dispatch(DispatchCommand&& c) {
  @autoreleasepool {
    check_open("encode a dispatch");
    auto* pipeline = dynamic_cast<MetalPipeline*>(c.pipeline.get());
    if (!pipeline) {
      throw ArgumentError("dispatch '" + c.label +
                          "': no pipeline, or one not made by the Metal "
                          "device");
    }
    validate(c, *pipeline);
    if (c.grid[0] == 0 || c.grid[1] == 0 || c.grid[2] == 0) return;  // nothing to run

    if (recorder_.mode() == TimestampMode::Encoder ||
        (recorder_.mode() == TimestampMode::Dispatch && recorder_.chunk_full())) {
      end_encoder();  // a fresh pass carries the sample buffer attachment
    }
    TimestampRecorder::Sample sample;
    id<MTLComputeCommandEncoder> enc = open_encoder(c.label, &sample);
    const TimestampMode mode = recorder_.mode();  // after open: a failed attachment degrades it
    NSString* label = to_ns(c.label);
    [enc pushDebugGroup:label];
    [enc setComputePipelineState:pipeline->mtl()];
    for (const Binding& b : c.bindings) {
      if (b.buffer) {
        auto* buffer = static_cast<MetalBuffer*>(b.buffer.get());
        [enc setBuffer:buffer->mtl() offset:b.offset atIndex:b.index];
        buffers_.push_back(b.buffer);
      } else {
        [enc setBytes:b.bytes.data() length:b.bytes.size() atIndex:b.index];
      }
    }
    for (const auto& [index, length] : c.threadgroup_memory) {
      [enc setThreadgroupMemoryLength:(length + 15) / 16 * 16 atIndex:index];  // 16-byte units
    }
    if (mode == TimestampMode::Dispatch) sample = recorder_.sample_begin(enc);
    if (c.mode == DispatchMode::Threads) {
      [enc dispatchThreads:mtl_size(c.grid) threadsPerThreadgroup:mtl_size(c.threadgroup)];
    } else {
      [enc dispatchThreadgroups:mtl_size(c.grid) threadsPerThreadgroup:mtl_size(c.threadgroup)];
    }
    if (mode == TimestampMode::Dispatch) recorder_.sample_end(enc, sample);
    [enc popDebugGroup];
    if (mode == TimestampMode::Encoder) end_encoder();
    pipelines_.push_back(std::move(c.pipeline));
    entries_.push_back({std::move(c.label), sample});
  }
}

id<MTLCommandBuffer> MetalCommandBuffer::begin_external_pass(const std::string& label) {
  check_open("encode an MPS pass");
  end_encoder();
  entries_.push_back({label, {}});
  return cb_;
}

void MetalCommandBuffer::continue_in(id<MTLCommandBuffer> root) {
  if (root == cb_) return;
  committed_by_mps_.push_back(cb_);
  cb_ = root;
}

void MetalCommandBuffer::commit() {
  @autoreleasepool {
    if (committed_) return;
    end_encoder();
    // The handler owns what the GPU reads until it is done; it runs on a Metal thread, and
    // nothing else touches these vectors after commit.
    auto buffers = std::make_shared<std::vector<BufferPtr>>(std::move(buffers_));
    auto pipelines = std::make_shared<std::vector<PipelinePtr>>(std::move(pipelines_));
    NSMutableArray* objects = objects_;
    [objects addObjectsFromArray:recorder_.buffers()];
    [cb_ addCompletedHandler:^(id<MTLCommandBuffer> done) {
      (void)done;
      buffers->clear();
      pipelines->clear();
      [objects removeAllObjects];
    }];
    [cb_ commit];
    committed_ = true;
  }
}

void MetalCommandBuffer::wait() {
  @autoreleasepool {
    commit();  // waiting on uncommitted work would never return
    for (id<MTLCommandBuffer> part : committed_by_mps_) {
      [part waitUntilCompleted];
      if (part.status == MTLCommandBufferStatusError) throw DeviceError(describe_failure(part));
    }
    [cb_ waitUntilCompleted];
    if (cb_.status == MTLCommandBufferStatusError) throw DeviceError(describe_failure(cb_));
  }
}

bool MetalCommandBuffer::is_completed() const {
  MTLCommandBufferStatus status = cb_.status;
  return committed_ &&
         (status == MTLCommandBufferStatusCompleted || status == MTLCommandBufferStatusError);
}

// "Metal command buffer failed (dispatches: a, b x3): <reason>" plus, with
// METALLIC_METAL_DEBUG=1, the state of each encoder and the debug groups it ran.
std::string MetalCommandBuffer::describe_failure(id<MTLCommandBuffer> failed) const {
  std::ostringstream out;
  out << "Metal command buffer failed (dispatches:";
  for (size_t i = 0; i < entries_.size();) {
    size_t j = i;
    while (j < entries_.size() && entries_[j].label == entries_[i].label) ++j;
    out << (i ? ", " : " ") << entries_[i].label;
    if (j - i > 1) out << " x" << (j - i);
    i = j;
  }
  NSError* error = failed.error;
  out << "): " << error_text(error);
  NSArray* infos = error.userInfo[MTLCommandBufferEncoderInfoErrorKey];
  for (id<MTLCommandBufferEncoderInfo> info in infos) {
    static const char* states[] = {"unknown", "completed", "affected", "pending", "faulted"};
    NSInteger s = info.errorState;
    out << "\n  encoder '" << to_std(info.label)
        << "': " << (s >= 0 && s <= 4 ? states[s] : "unknown");
    for (NSString* signpost in info.debugSignposts) out << " [" << to_std(signpost) << "]";
  }
  if (!infos) out << " (set METALLIC_METAL_DEBUG=1 to see which dispatch faulted)";
  return out.str();
}

std::vector<DispatchTiming> MetalCommandBuffer::timings() const {
  @autoreleasepool {
    if (!committed_ || cb_.status != MTLCommandBufferStatusCompleted || entries_.empty()) {
      return {};
    }
    double total = cb_.GPUEndTime - cb_.GPUStartTime;
    for (id<MTLCommandBuffer> part : committed_by_mps_) {
      if (part.status != MTLCommandBufferStatusCompleted) return {};
      total += part.GPUEndTime - part.GPUStartTime;
    }
    std::vector<DispatchTiming> out;
    if (recorder_.mode() == TimestampMode::CommandBuffer) {
      std::string joined;
      for (size_t i = 0; i < entries_.size();) {
        size_t j = i;
        while (j < entries_.size() && entries_[j].label == entries_[i].label) ++j;
        joined += (i ? "+" : "") + entries_[i].label;
        if (j - i > 1) joined += " x" + std::to_string(j - i);
        i = j;
      }
      out.push_back({joined, total});
      return out;
    }
    std::vector<TimestampRecorder::Sample> samples;
    for (const Entry& e : entries_) samples.push_back(e.sample);
    std::vector<double> seconds = recorder_.resolve(samples);
    // Passes without samples (MPS) share what the sampled dispatches leave of the total.
    double sampled = 0;
    size_t unsampled = 0;
    for (double s : seconds) {
      if (s >= 0) {
        sampled += s;
      } else {
        ++unsampled;
      }
    }
    double rest = unsampled ? std::max(0.0, total - sampled) / double(unsampled) : 0.0;
    for (size_t i = 0; i < entries_.size(); ++i) {
      out.push_back({entries_[i].label, seconds[i] >= 0 ? seconds[i] : rest});
    }
    return out;
  }
}

}  // namespace metallic::metal
