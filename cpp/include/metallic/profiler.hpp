// Per-dispatch profiling: every dispatch carries a label ("scope/op"); devices report durations.
#pragma once

#include <string>
#include <vector>

#include "metallic/device.hpp"

namespace metallic {

class Profiler {
 public:
  /// Label for a dispatch of `op` under the current scopes ("decode/attention/softmax").
  std::string label(const char* op) const;
  void push_scope(std::string name) { scopes_.push_back(std::move(name)); }
  void pop_scope() { scopes_.pop_back(); }

  void record(std::vector<DispatchTiming> timings);
  /// Timings recorded since the last take, oldest first.
  std::vector<DispatchTiming> take();

 private:
  std::vector<std::string> scopes_;
  std::vector<DispatchTiming> records_;
};

}  // namespace metallic
