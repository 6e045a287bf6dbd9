#include "metallic/profiler.hpp"

#include <utility>

namespace metallic {

std::string Profiler::label(const char* op) const {
  if (scopes_.empty()) return op;
  std::string s;
  for (const auto& scope : scopes_) s += scope + "/";
  return s + op;
}

void Profiler::record(std::vector<DispatchTiming> timings) {
  for (auto& t : timings) records_.push_back(std::move(t));
}

std::vector<DispatchTiming> Profiler::take() {
  return std::exchange(records_, {});
}

}  // namespace metallic
