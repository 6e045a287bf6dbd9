// The host device's command queue and command buffers: committed work runs in order on the
// queue's thread, each dispatch's threadgroups spread over the worker pool.
#include <algorithm>
#include <chrono>
#include <cstdio>

#include "backends/host/host_device.hpp"
#include "metal/runtime/exec.h"
#include "metallic/error.hpp"

namespace metallic::host {

namespace {

/// Waking a sleeping thread costs tens of microseconds on a virtual machine, which would dominate
/// a small synchronous op; so both sides of the queue poll for a short while before sleeping.
constexpr auto kSpin = std::chrono::microseconds(50);

template <class Ready>
bool spin_until(Ready ready) {
  const auto deadline = std::chrono::steady_clock::now() + kSpin;
  for (uint32_t i = 1;; ++i) {
    if (ready()) return true;
    if (i % 64 == 0 && std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::yield();
  }
}

}  // namespace

void HostCommandBuffer::encode_dispatch(DispatchCommand&& command) {
  if (committed_) throw MetallicError("cannot encode into a committed command buffer");
  commands_.push_back(std::move(command));
}

void HostCommandBuffer::encode_matmul(const MatmulCommand& command) {
  if (committed_) throw MetallicError("cannot encode into a committed command buffer");
  commands_.emplace_back(command);
}

void HostCommandBuffer::encode_graph(GraphCommand&& command) {
  if (committed_) throw MetallicError("cannot encode into a committed command buffer");
  commands_.push_back(std::move(command));
}

void HostCommandBuffer::commit() {
  if (committed_) throw MetallicError("the command buffer was already committed");
  committed_ = true;
  queue_.submit(shared_from_this());
}

void HostCommandBuffer::wait() {
  while (!wait_for(3600.0)) {
  }
}

bool HostCommandBuffer::wait_for(double seconds) {
  if (!committed_) throw MetallicError("wait() on a command buffer that was never committed");
  spin_until([this] { return done_.load(std::memory_order_acquire); });
  std::unique_lock<std::mutex> lock(mutex_);
  if (!done_cv_.wait_for(lock, std::chrono::duration<double>(seconds),
                         [this] { return done_.load(); })) {
    return false;
  }
  if (!error_.empty()) throw DeviceError(error_);
  return true;
}

bool HostCommandBuffer::is_completed() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return done_;
}

std::vector<DispatchTiming> HostCommandBuffer::timings() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return timings_;
}

void HostCommandBuffer::finish(std::vector<DispatchTiming> timings, std::string error) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    timings_ = std::move(timings);
    error_ = std::move(error);
    done_ = true;
    commands_.clear();  // release buffers as a GPU's completed command buffer would
  }
  done_cv_.notify_all();
}

HostQueue::HostQueue(bool checks, double timeout_seconds)
    : checks_(checks), timeout_seconds_(timeout_seconds), workers_(0), thread_([this] { loop(); }) {
  if (timeout_seconds_ > 0) watchdog_ = std::thread([this] { watchdog_loop(); });
}

HostQueue::~HostQueue() {
  // A context waits for its work before it destroys its device, unless it became unusable:
  // then nobody can see the rest, and a kernel that never ends must not block the exit.
  abandon("abandoned: its context was destroyed");
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  ready_.notify_one();
  thread_.join();
  {
    std::lock_guard<std::mutex> lock(run_mutex_);
    watchdog_exit_ = true;
  }
  run_cv_.notify_all();
  if (watchdog_.joinable()) watchdog_.join();
}

void HostQueue::abandon(const std::string& why) {
  std::deque<std::shared_ptr<HostCommandBuffer>> dropped;
  abandons_.fetch_add(1, std::memory_order_acq_rel);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    dropped.swap(pending_);
    pending_count_.store(0, std::memory_order_release);
  }
  for (auto& cb : dropped) cb->finish({}, why);
  uint64_t id;
  {
    std::lock_guard<std::mutex> lock(run_mutex_);
    id = run_id_;
  }
  if (id & 1) stop_dispatch(id, why);
}

void HostQueue::stop_dispatch(uint64_t id, const std::string& why) {
  {
    std::unique_lock<std::mutex> lock(run_mutex_);
    run_cv_.wait(lock, [&] { return !stopping_ || run_id_ != id; });
    if (run_id_ != id) return;
    stopping_ = true;  // no new dispatch starts meanwhile, so no signal reaches the wrong one
    stop_reason_ = why;
    stop_requested_.store(true, std::memory_order_release);
  }
  std::vector<pthread_t> threads = workers_.native_handles();
  threads.push_back(thread_.native_handle());
  for (;;) {
    {
      std::lock_guard<std::mutex> lock(run_mutex_);
      if (run_id_ != id) break;
    }
    // Each round signals every thread once (and pauses briefly); a thread outside kernel code
    // ignores it, a chunk not started yet sees stop_requested_.
    if (!metal_host::rt::request_stop(threads.data(), threads.size())) break;  // catching is off
  }
  {
    std::lock_guard<std::mutex> lock(run_mutex_);
    stopping_ = false;
  }
  run_cv_.notify_all();
}

void HostQueue::watchdog_loop() {
  const auto poll = std::chrono::duration<double>(std::min(timeout_seconds_ / 4, 0.1));
  const auto limit = std::chrono::duration<double>(timeout_seconds_);
  std::unique_lock<std::mutex> lock(run_mutex_);
  while (!watchdog_exit_) {
    run_cv_.wait_for(lock, poll);
    if (watchdog_exit_) break;
    if ((run_id_ & 1) && !stopping_ && std::chrono::steady_clock::now() - run_since_ > limit) {
      const uint64_t id = run_id_;
      char seconds[32];
      std::snprintf(seconds, sizeof seconds, "%g", timeout_seconds_);
      const std::string why = run_label_ + " ran longer than METALLIC_HOST_TIMEOUT_S=" + seconds +
                              " s and was stopped (an endless loop? if it is only slow, raise "
                              "the limit)";
      lock.unlock();
      stop_dispatch(id, why);
      lock.lock();
    }
  }
}

void HostQueue::submit(std::shared_ptr<HostCommandBuffer> cb) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    pending_.push_back(std::move(cb));
    pending_count_.fetch_add(1, std::memory_order_release);
  }
  ready_.notify_one();
}

void HostQueue::loop() {
  for (;;) {
    std::shared_ptr<HostCommandBuffer> cb;
    spin_until([this] { return pending_count_.load(std::memory_order_acquire) != 0; });
    {
      std::unique_lock<std::mutex> lock(mutex_);
      ready_.wait(lock, [this] { return stop_ || !pending_.empty(); });
      if (pending_.empty()) return;  // stop requested and all work done
      cb = std::move(pending_.front());
      pending_.pop_front();
      pending_count_.fetch_sub(1, std::memory_order_relaxed);
    }
    execute(*cb);
  }
}

namespace {

/// The mtlh_dispatch view of one DispatchCommand (pointers into the command's own storage).
struct DispatchArgs {
  void* buffers[31] = {};
  uint64_t lengths[31] = {};
  uint64_t threadgroup_lengths[31] = {};
  mtlh_dispatch d{};

  DispatchArgs(DispatchCommand& c, const HostPipeline& p, bool checks) {
    uint32_t max_index = 0;
    for (auto& b : c.bindings) {
      if (b.index >= 31) {
        throw ArgumentError("buffer index " + std::to_string(b.index) + " is out of range (0..30)");
      }
      if (b.buffer) {
        buffers[b.index] = static_cast<char*>(b.buffer->contents()) + b.offset;
        lengths[b.index] = b.buffer->length() - b.offset;
        lengths[b.index] = std::min<uint64_t>(lengths[b.index], b.length);
      } else {
        buffers[b.index] = b.bytes.data();
        lengths[b.index] = b.bytes.size();
        d.inline_bytes_mask |= 1u << b.index;
      }
      max_index = std::max(max_index, b.index + 1);
    }
    uint32_t max_tg = 0;
    for (auto& [index, length] : c.threadgroup_memory) {
      if (index >= 31) throw ArgumentError("threadgroup index out of range (0..30)");
      threadgroup_lengths[index] = length;
      max_tg = std::max(max_tg, index + 1);
    }
    d.buffers = buffers;
    d.buffer_lengths = lengths;
    d.num_buffers = max_index;
    d.threadgroup_lengths = threadgroup_lengths;
    d.num_threadgroup = max_tg;
    d.constants = p.constants().data();
    d.num_constants = static_cast<uint32_t>(p.constants().size());
    for (int i = 0; i < 3; ++i) {
      d.threads_per_threadgroup[i] = c.threadgroup[i];
      if (c.mode == DispatchMode::Threadgroups) {
        d.threadgroups_per_grid[i] = c.grid[i];
        d.threads_per_grid[i] = c.grid[i] * c.threadgroup[i];
      } else {
        d.threads_per_grid[i] = c.grid[i];
        d.threadgroups_per_grid[i] = (c.grid[i] + c.threadgroup[i] - 1) / c.threadgroup[i];
      }
    }
    d.checks = checks ? 1 : 0;
    // Hardware faults in kernel code (division by zero, wild pointers, stack overflow) become
    // errors: every library registers with this module's copy of the handler (fault.cpp).
    d.fault_slot = &metal_host::rt::fault_slot;
  }
};

}  // namespace

void HostQueue::execute(HostCommandBuffer& cb) {
  std::vector<DispatchTiming> timings;
  timings.reserve(cb.commands_.size());
  std::string error;
  const uint64_t abandons = abandons_.load(std::memory_order_acquire);
  for (auto& entry : cb.commands_) {
    if (abandons_.load(std::memory_order_acquire) != abandons) {
      error = "abandoned: its context was interrupted while waiting";
      break;
    }
    const auto start = std::chrono::steady_clock::now();
    std::string label;
    try {
      if (auto* dispatch = std::get_if<DispatchCommand>(&entry)) {
        label = dispatch->label;
        run_dispatch(*dispatch);
      } else if (auto* matmul = std::get_if<MatmulCommand>(&entry)) {
        label = matmul->label;
        run_matmul(*matmul);
      } else {
        const auto& graph = std::get<GraphCommand>(entry);
        label = graph.label;
        run_graph(graph);
      }
    } catch (const std::exception& e) {
      error = label + ": " + e.what();
    }
    const auto stop = std::chrono::steady_clock::now();
    timings.push_back({label, std::chrono::duration<double>(stop - start).count(),
                       std::chrono::duration<double>(start.time_since_epoch()).count()});
    if (!error.empty()) break;  // like a GPU command buffer that faulted: the rest does not run
  }
  cb.finish(std::move(timings), std::move(error));
}

void HostQueue::run_dispatch(DispatchCommand& command) {
  const auto& pipeline = static_cast<const HostPipeline&>(*command.pipeline);
  DispatchArgs args(command, pipeline, checks_);
  const uint64_t groups = uint64_t(args.d.threadgroups_per_grid[0]) *
                          args.d.threadgroups_per_grid[1] * args.d.threadgroups_per_grid[2];
  if (groups > UINT32_MAX) throw ArgumentError("too many threadgroups");
  std::mutex error_mutex;
  std::string error;
  // Waking a worker costs a few microseconds: worth it only for enough threads.
  constexpr uint64_t kParallelThreads = 16384;
  const uint64_t threads = uint64_t(args.d.threads_per_grid[0]) * args.d.threads_per_grid[1] *
                           args.d.threads_per_grid[2];
  {
    std::unique_lock<std::mutex> lock(run_mutex_);
    if (stopping_) run_cv_.wait(lock, [this] { return !stopping_; });
    ++run_id_;  // odd: running
    if (timeout_seconds_ > 0) {
      run_since_ = std::chrono::steady_clock::now();
      run_label_ = "kernel " + pipeline.function_name();
    }
  }
  workers_.parallel_for(
      static_cast<uint32_t>(groups),
      [&](uint32_t first, uint32_t count) {
        if (stop_requested_.load(std::memory_order_acquire)) return;
        char message[1024];
        if (pipeline.kernel().run(&args.d, first, count, message, sizeof message) != 0) {
          std::lock_guard<std::mutex> lock(error_mutex);
          if (error.empty()) error = message;
        }
      },
      threads >= kParallelThreads || pipeline.kernel().uses_sync);
  bool stopped;
  {
    std::lock_guard<std::mutex> lock(run_mutex_);
    ++run_id_;  // even: idle
    stopped = stop_requested_.exchange(false, std::memory_order_acq_rel);
    if (stopped) error = stop_reason_;
  }
  if (!error.empty()) throw DeviceError(error);
}

}  // namespace metallic::host
