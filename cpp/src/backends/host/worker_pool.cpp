#include "backends/host/worker_pool.hpp"

#include <algorithm>

namespace metallic::host {

WorkerPool::WorkerPool(unsigned threads) {
  if (threads == 0) {
    const unsigned hw = std::thread::hardware_concurrency();
    threads = hw > 1 ? hw - 1 : 0;
  }
  for (unsigned i = 0; i < threads; ++i) threads_.emplace_back([this] { worker_loop(); });
}

WorkerPool::~WorkerPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  for (auto& t : threads_) t.join();
}

std::vector<std::thread::native_handle_type> WorkerPool::native_handles() {
  std::vector<std::thread::native_handle_type> out;
  for (auto& t : threads_) out.push_back(t.native_handle());
  return out;
}

void WorkerPool::run_chunks() {
  for (;;) {
    const uint32_t first = next_.fetch_add(chunk_);
    if (first >= total_) return;
    (*task_)(first, std::min(chunk_, total_ - first));
  }
}

void WorkerPool::parallel_for(uint32_t total, const std::function<void(uint32_t, uint32_t)>& task,
                              bool parallel) {
  if (total == 0) return;
  // Small dispatches run on the calling thread: waking workers costs more than they save.
  if (threads_.empty() || total == 1 || !parallel) {
    task(0, total);
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    task_ = &task;
    total_ = total;
    // Several chunks per thread balance uneven threadgroups; not so many that the counter is hot.
    chunk_ = std::max<uint32_t>(1, total / (size() * 8));
    next_.store(0);
    active_ = static_cast<unsigned>(threads_.size());
    generation_++;
  }
  wake_.notify_all();
  run_chunks();
  std::unique_lock<std::mutex> lock(mutex_);
  done_.wait(lock, [this] { return active_ == 0; });
  task_ = nullptr;
}

void WorkerPool::worker_loop() {
  uint64_t seen = 0;
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [&] { return stop_ || generation_ != seen; });
      if (stop_) return;
      seen = generation_;
    }
    run_chunks();
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (--active_ == 0) done_.notify_one();
    }
  }
}

}  // namespace metallic::host
