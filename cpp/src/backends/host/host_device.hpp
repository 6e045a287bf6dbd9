// The host device: runs translated MSL kernels on the CPU with Metal's execution model.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "backends/host/worker_pool.hpp"
#include "metallic/device.hpp"
#include "metallic_host_abi.h"

namespace metallic::host {

class HostBuffer final : public Buffer {
 public:
  explicit HostBuffer(size_t length);
  ~HostBuffer() override;
  size_t length() const override { return length_; }
  void* contents() override { return data_; }

 private:
  void* data_;
  size_t length_;
  void* mapping_ = nullptr;  // the mmap'd pages (data, then the guard page), or null
  size_t mapping_bytes_ = 0;
};

/// Host memory owned by someone else (a numpy array, an mmap'd GGUF file), kept alive by `owner`.
class HostExternalBuffer final : public Buffer {
 public:
  HostExternalBuffer(void* data, size_t length, std::shared_ptr<void> owner)
      : data_(data), length_(length), owner_(std::move(owner)) {}
  size_t length() const override { return length_; }
  void* contents() override { return data_; }

 private:
  void* data_;
  size_t length_;
  std::shared_ptr<void> owner_;
};

class HostLibrary final : public Library {
 public:
  HostLibrary(std::string name, const mtlh_library* table, void* handle);
  ~HostLibrary() override;
  const std::string& name() const override { return name_; }
  std::vector<std::string> function_names() const override;
  /// The kernel named `function`; throws MetallicError listing the names that exist.
  const mtlh_kernel& kernel(const std::string& function) const;

 private:
  std::string name_;
  const mtlh_library* table_;
  void* handle_;  // dlopen handle of a library compiled at run time, else null
};

class HostPipeline final : public Pipeline {
 public:
  HostPipeline(LibraryPtr library, const mtlh_kernel& kernel, const FunctionConstants& constants);
  const std::string& function_name() const override { return name_; }
  uint32_t max_total_threads_per_threadgroup() const override {
    return kernel_.max_total_threads_per_threadgroup;
  }
  uint32_t thread_execution_width() const override { return 32; }
  size_t static_threadgroup_memory_length() const override {
    return static_cast<size_t>(kernel_.static_threadgroup_memory);
  }
  std::vector<KernelArgument> arguments() const override;
  const mtlh_kernel& kernel() const { return kernel_; }
  const std::vector<mtlh_constant>& constants() const { return constants_; }

 private:
  LibraryPtr library_;  // keeps a run-time compiled shared object loaded
  const mtlh_kernel& kernel_;
  std::string name_;
  std::vector<mtlh_constant> constants_;
};

class HostCommandBuffer;

/// Runs committed command buffers in order on a thread of its own, like a GPU queue. Work can be
/// abandoned (pending command buffers fail, the running kernel is stopped), and an optional
/// watchdog stops a kernel that runs longer than a timeout.
class HostQueue {
 public:
  /// `timeout_seconds` > 0: the watchdog's limit per dispatch (METALLIC_HOST_TIMEOUT_S).
  HostQueue(bool checks, double timeout_seconds);
  /// Abandons whatever is still queued or running, then joins the queue thread.
  ~HostQueue();
  void submit(std::shared_ptr<HostCommandBuffer> cb);
  /// Fails every pending command buffer with `why` and stops the running dispatch.
  void abandon(const std::string& why);

 private:
  void loop();
  void execute(HostCommandBuffer& cb);
  void run_dispatch(DispatchCommand& command);
  void run_matmul(const MatmulCommand& command);
  /// The reference executor (host_graph.cpp).
  void run_graph(const GraphCommand& command);
  void watchdog_loop();
  /// Stops the running dispatch `id` (if it still runs) with error `why`; returns once it has.
  void stop_dispatch(uint64_t id, const std::string& why);

  bool checks_;
  double timeout_seconds_;
  WorkerPool workers_;
  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<std::shared_ptr<HostCommandBuffer>> pending_;
  std::atomic<size_t> pending_count_{0};  // read without the lock while spinning
  bool stop_ = false;

  // The running dispatch, for stopping it (under run_mutex_).
  std::mutex run_mutex_;
  std::condition_variable run_cv_;
  uint64_t run_id_ = 0;  // odd while a dispatch runs
  std::chrono::steady_clock::time_point run_since_;
  std::string run_label_;
  bool stopping_ = false;    // stop_dispatch is signalling: no new dispatch may start
  std::string stop_reason_;  // why the running dispatch is being stopped
  std::atomic<bool> stop_requested_{false};  // read by the dispatch's chunks
  std::atomic<uint64_t> abandons_{0};        // abandon() calls: a running command buffer stops
  bool watchdog_exit_ = false;

  std::thread thread_;
  std::thread watchdog_;
};

class HostCommandBuffer final : public CommandBuffer,
                                public std::enable_shared_from_this<HostCommandBuffer> {
 public:
  explicit HostCommandBuffer(HostQueue& queue) : queue_(queue) {}
  void encode_dispatch(DispatchCommand&& command) override;
  void encode_matmul(const MatmulCommand& command) override;
  void encode_graph(GraphCommand&& command) override;
  void commit() override;
  void wait() override;
  bool wait_for(double seconds) override;
  bool is_completed() const override;
  std::vector<DispatchTiming> timings() const override;

 private:
  friend class HostQueue;
  void finish(std::vector<DispatchTiming> timings, std::string error);

  HostQueue& queue_;
  std::vector<std::variant<DispatchCommand, MatmulCommand, GraphCommand>> commands_;
  bool committed_ = false;
  mutable std::mutex mutex_;
  std::condition_variable done_cv_;
  std::atomic<bool> done_{false};
  std::string error_;
  std::vector<DispatchTiming> timings_;
};

class HostDevice final : public Device {
 public:
  explicit HostDevice(const DeviceOptions& options);
  DeviceKind kind() const override { return DeviceKind::Host; }
  std::string name() const override;
  std::map<std::string, std::string> info() const override;
  BufferPtr allocate(size_t bytes) override;
  BufferPtr wrap_host_memory(void* data, size_t length, std::shared_ptr<void> owner) override {
    return std::make_shared<HostExternalBuffer>(data, length, std::move(owner));
  }
  LibraryPtr load_library(const LibrarySource& source) override;
  PipelinePtr make_pipeline(const LibraryPtr& library, const std::string& function,
                            const FunctionConstants& constants) override;
  CommandBufferPtr new_command_buffer() override;
  GraphExecutablePtr compile_graph(const graph::Graph& graph) override;
  /// The reference executor runs the fused node directly (one task per batch entry and KV
  /// head); METALLIC_HOST_GRAPH_FUSED_ATTENTION=0 makes graph kernels build the unfused form.
  bool graph_has_fused_attention() const override { return fused_attention_; }
  void abandon_work() override;

 private:
  DeviceOptions options_;
  bool fused_attention_ = true;
  HostQueue queue_;
};

}  // namespace metallic::host
