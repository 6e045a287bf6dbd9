// The Operation of the layout and creation ops (copy, cast, permute, concat, creation): the
// dispatches planned and validated in create, recorded in order by encode.
#pragma once

#include <functional>
#include <vector>

#include "metallic/kernel.hpp"

namespace metallic {

struct DispatchList {
  std::vector<std::function<void(ComputeKernelEncoder&)>> dispatches;

  /// Appends a planned dispatch (anything with encode(ComputeKernelEncoder&) const).
  template <class Planned>
  void add(Planned planned) {
    dispatches.emplace_back([p = std::move(planned)](ComputeKernelEncoder& e) { p.encode(e); });
  }
  /// Records every dispatch, in order.
  void encode(ComputeKernelEncoder& e) const {
    for (const auto& d : dispatches) d(e);
  }
};

}  // namespace metallic
