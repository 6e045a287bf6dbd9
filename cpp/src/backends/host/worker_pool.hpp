// A fixed pool of OS threads that run the threadgroups of one dispatch in parallel.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace metallic::host {

class WorkerPool {
 public:
  /// `threads` helpers besides the calling thread (0: hardware concurrency - 1).
  explicit WorkerPool(unsigned threads);
  ~WorkerPool();

  /// Calls task(first, count) over [0, total) in chunks, on the pool and the calling thread
  /// (only the calling thread when `parallel` is false); returns when all chunks are done.
  void parallel_for(uint32_t total, const std::function<void(uint32_t, uint32_t)>& task,
                    bool parallel = true);
  unsigned size() const { return static_cast<unsigned>(threads_.size()) + 1; }
  /// The helper threads (not the calling thread), to signal them.
  std::vector<std::thread::native_handle_type> native_handles();

 private:
  void worker_loop();
  void run_chunks();

  std::vector<std::thread> threads_;
  std::mutex mutex_;
  std::condition_variable wake_, done_;
  uint64_t generation_ = 0;
  bool stop_ = false;
  unsigned active_ = 0;
  const std::function<void(uint32_t, uint32_t)>* task_ = nullptr;
  uint32_t total_ = 0, chunk_ = 1;
  std::atomic<uint32_t> next_{0};
};

}  // namespace metallic::host
