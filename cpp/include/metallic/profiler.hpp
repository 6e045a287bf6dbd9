// Profiling: dispatch labels carry the scopes they run in ("decode/attention/softmax"), and, only
// while a profile is recording, one record per dispatch: op, scope, kernel, grid, threadgroup,
// bytes bound and the device's duration. Nothing is recorded otherwise, so a long loop costs
// nothing and nothing accumulates.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "metallic/device.hpp"

namespace metallic {

/// One dispatch (or device-library command such as a matmul) recorded by a profile.
struct DispatchRecord {
  std::string label;            // the op ("elemwise_add") or custom kernel name
  std::string scope;            // the scopes it ran in, "layer0/attn", or ""
  std::string kernel;           // the pipeline's function, or the device command ("matmul")
  Size3 grid{0, 0, 0};          // threads in each dimension
  Size3 threadgroup{0, 0, 0};   // threads per threadgroup (0 for device-library commands)
  size_t bytes = 0;             // bytes of the tensors bound
  uint64_t command_buffer = 0;  // sequence number of its command buffer
  double start = -1.0;    // seconds since the profile's first timed record started; -1: unknown
  double seconds = -1.0;  // duration; -1: the device timed only the whole command buffer
};

/// The records of one profile, oldest first, with the two ways to look at them.
struct Profile {
  std::vector<DispatchRecord> records;
  /// Seconds of command buffers the device timed as a whole (their records have seconds -1).
  double untimed_command_buffer_seconds = 0.0;

  /// A text table: one row per op (label), sorted by total time, with calls, total, mean and
  /// share, then the total.
  std::string table() const;
  /// The records in the Chrome trace-event JSON format (Perfetto, chrome://tracing).
  std::string chrome_trace() const;
};

/// Where a recording started (see Profiler::start).
struct ProfileMark {
  uint64_t first = 0;  // ordinal of the first dispatch it records
  double untimed_seconds = 0.0;
};

class Profiler {
 public:
  /// Label for a dispatch of `op` under the current scopes ("decode/attention/softmax").
  std::string label(const char* op) const;
  /// The current scopes joined by '/' ("" outside any scope).
  const std::string& scope() const { return scope_; }
  void push_scope(std::string name);
  /// Ends the innermost scope; throws ArgumentError when there is none.
  void pop_scope();

  /// Whether a profile is recording (dispatches must call encoded()).
  bool recording() const { return depth_ > 0; }
  /// Starts a (possibly nested) recording; returns where, for stop().
  ProfileMark start();
  /// Ends the recording started at `mark` and returns its records. The caller waits for the work
  /// first, so every record has its duration.
  Profile stop(const ProfileMark& mark);

  /// Command `index` (0, 1, ... in its command buffer) of command buffer `seq` was encoded while
  /// recording.
  void encoded(uint64_t seq, uint32_t index, DispatchRecord record);
  /// Command buffer `seq`, of `commands` commands, completed with these timings: one per
  /// command, or (a device that cannot split) one in total.
  void completed(uint64_t seq, uint32_t commands, const std::vector<DispatchTiming>& timings);
  /// Command buffer `seq` failed: its records (and any older ones) are dropped.
  void failed(uint64_t seq);

 private:
  std::vector<std::string> scopes_;
  std::string scope_;
  unsigned depth_ = 0;
  struct Entry {
    uint64_t ordinal;  // encoding order of all recorded dispatches
    uint32_t index;    // in its command buffer
    DispatchRecord record;
  };
  std::deque<Entry> pending_;  // encoded, not completed; by command buffer
  std::vector<Entry> log_;     // completed, while any recording runs; by ordinal
  uint64_t next_ordinal_ = 0;
  double untimed_seconds_ = 0.0;  // of command buffers timed as a whole, ever
};

}  // namespace metallic
