// Context: owns a device and its queue, the lazy command stream, the buffer pool, the pipeline
// and library caches, the graph kernels' ResourceCache and the profiler. One stream of work:
// encoding, committing and the bookkeeping of waits are serialised by a lock, because Python
// releases the GIL while it waits and another thread may encode meanwhile (the lock is not held
// while blocked on the device, so that an interrupt check may take the GIL). The rest (pool,
// caches, profiler scopes) expects one caller at a time, as the GIL guarantees; C++ code that
// shares a context between threads must lock around its calls.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <tuple>

#include "metallic/backend_registry.hpp"
#include "metallic/buffer_pool.hpp"
#include "metallic/device.hpp"
#include "metallic/kernel_registry.hpp"
#include "metallic/profiler.hpp"
#include "metallic/resource_cache.hpp"
#include "metallic/tensor.hpp"

namespace metallic {

struct ContextOptions {
  /// "auto" (Metal where available, else host; METALLIC_DEVICE overrides), "host" or "metal".
  std::string device = "auto";
  /// Host device: bounds and uninitialised-memory checks (also METALLIC_HOST_CHECKS=1).
  bool host_checks = false;
  /// Commit the active command buffer after this many dispatches (0: METALLIC_COMMIT_DISPATCHES
  /// or the default of 64), so the device starts while the host keeps encoding.
  uint32_t dispatches_per_command_buffer = 0;
  /// Also commit once the dispatches of the active command buffer have bound this many bytes of
  /// buffers (0: METALLIC_COMMIT_MB megabytes or the default of 256 MB), so large working sets
  /// start early and release memory sooner.
  size_t bytes_per_command_buffer = 0;
};

class Context : public std::enable_shared_from_this<Context> {
 public:
  static std::shared_ptr<Context> create(const ContextOptions& options = {});
  ~Context();
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  Device& device() { return *device_; }
  const ContextOptions& options() const { return options_; }

  // --- tensors -------------------------------------------------------------------------------
  Tensor tensor(DType dtype, Shape shape, TensorInit init = TensorInit::uninitialized(),
                StorageKind storage = StorageKind::Pooled);
  /// A tensor over `nbytes` of host memory at `data` (e.g. a GGUF file's Q8_0 weights), without
  /// a copy where the device can use that memory (the host device), else a copy; `owner` stays
  /// alive as long as the tensor's storage. Throws ShapeError unless nbytes matches dtype/shape.
  Tensor tensor_from_host_memory(DType dtype, Shape shape, void* data, size_t nbytes,
                                 std::shared_ptr<void> owner);
  BufferPool& pool() { return pool_; }

  // --- lazy execution ------------------------------------------------------------------------
  /// The command buffer that ops encode into; created on first use.
  CommandBuffer& active_command_buffer();
  /// Sequence number of the active command buffer (the next to be committed).
  uint64_t active_sequence() const { return active_seq_; }
  /// Commands encoded into the active command buffer so far.
  uint32_t active_commands() const { return active_dispatches_; }
  /// Records that the active command buffer uses `t`'s storage.
  void mark_used(const Tensor& t);
  /// Called by the encoder after each dispatch: applies the commit policy.
  void dispatch_encoded();
  /// Commits the active command buffer, if it holds any work.
  void commit();
  /// Makes sure command buffer `seq` (and all before it) has completed.
  void wait_for(uint64_t seq);
  /// Commits and waits for everything.
  void synchronize();
  /// Called about every 50 ms while a wait blocks; it may throw to abandon the wait (Python:
  /// KeyboardInterrupt on Ctrl-C). The context is unusable afterwards: its work may still run.
  void set_interrupt_check(std::function<void()> check) { interrupt_check_ = std::move(check); }
  /// Throws DeviceError if a wait was interrupted (the context can no longer be used).
  void check_usable() const;
  /// Serialises encoding, committing and waiting (see the top of this file).
  std::recursive_mutex& stream_mutex() { return stream_mutex_; }
  /// Sequence number of the newest completed command buffer.
  uint64_t completed_sequence() const { return completed_seq_; }

  // --- kernels -------------------------------------------------------------------------------
  /// A built-in library (metal/<family>), loaded once.
  LibraryPtr library(KernelLibrary lib);
  /// A library compiled from MSL source at run time, by the device's own compiler (Metal:
  /// newLibraryWithSource; host: the installed HostSourceCompiler), cached by name, source and
  /// include dirs; `recompile` compiles it again even if cached (a header it includes may have
  /// changed) and caches the new library instead; throws KernelCompileError.
  LibraryPtr compile_library(const std::string& source, const std::string& name,
                             const std::vector<std::string>& include_dirs, bool recompile = false);
  PipelinePtr pipeline(KernelFunction fn, const FunctionConstants& constants = {});
  PipelinePtr pipeline(const LibraryPtr& library, const std::string& function,
                       const FunctionConstants& constants = {});

  Profiler& profiler() { return profiler_; }
  /// Backend overrides and choices of ops with several implementations (backend_registry.hpp).
  BackendSelector& backends() { return backends_; }
  /// The graph kernels' compiled executables and masks (resource_cache.hpp).
  ResourceCache& resources() { return resources_; }
  /// Starts recording a profile (see profiler.hpp); nests.
  ProfileMark begin_profile();
  /// Waits for all work and returns the records since `mark`.
  Profile end_profile(const ProfileMark& mark);

  /// The device's limit of threadgroup memory per threadgroup, in bytes.
  size_t max_threadgroup_memory() const { return max_threadgroup_memory_; }

  /// Runs one Op: validates, allocates the output, encodes (lazily); returns the output (a
  /// Tensor, or what the Op's create returns beside its Operation). See kernel.hpp.
  template <class Op>
  auto call(const typename Op::Args& args);

 private:
  explicit Context(const ContextOptions& options);
  /// Waits for `cb` (committed as `seq`), calling the interrupt check while it blocks.
  void wait_interruptibly(uint64_t seq, CommandBuffer& cb);

  ContextOptions options_;
  std::recursive_mutex stream_mutex_;
  std::unique_ptr<Device> device_;
  BufferPool pool_;
  Profiler profiler_;
  BackendSelector backends_;
  ResourceCache resources_;
  CommandBufferPtr active_;
  uint32_t active_dispatches_ = 0;
  uint32_t dispatch_limit_ = 64;
  size_t active_bytes_ = 0;
  size_t bytes_limit_ = size_t(256) << 20;
  uint64_t active_seq_ = 1;
  uint64_t completed_seq_ = 0;
  std::function<void()> interrupt_check_;
  std::string unusable_;        // why the context can no longer be used; empty while it can
  bool env_profiling_ = false;  // METALLIC_ENABLE_PROFILING=1: records its whole life
  ProfileMark env_profile_;
  size_t max_threadgroup_memory_ = 32768;
  struct InFlight {
    uint64_t seq;
    CommandBufferPtr cb;
    uint32_t commands;  // dispatches and device commands encoded into it
  };
  std::deque<InFlight> in_flight_;
  std::map<int, LibraryPtr> libraries_;
  std::map<std::string, LibraryPtr> compiled_libraries_;
  std::map<std::tuple<const Library*, std::string, FunctionConstants>, PipelinePtr> pipelines_;
  std::vector<PipelinePtr> builtin_pipelines_;  // by KernelFunction, without constants
};

}  // namespace metallic

#include "metallic/kernel.hpp"  // Context::call needs the encoder
