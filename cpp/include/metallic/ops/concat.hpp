// Concatenate and split along an axis, by the copy kernels (metal/copy).
#pragma once

#include <optional>
#include <utility>
#include <vector>

#include "metallic/op_registry.hpp"
#include "metallic/ops/dispatch_list.hpp"

namespace metallic {

/// numpy's concatenate: the tensors joined along `axis` (same dtype, equal other dimensions).
struct ConcatenateOp {
  static constexpr const char* name = "concatenate";
  struct Args {
    std::vector<Tensor> tensors;
    int64_t axis = 0;
  };
  using Operation = DispatchList;
  static std::pair<Operation, Tensor> create(Context& ctx, const Args& args);
};

/// x cut along `axis` into `sections` equal parts, or at the given `indices` (numpy's split's two
/// forms, as two parameters); each part is a new contiguous tensor.
struct SplitOp {
  static constexpr const char* name = "split";
  struct Args {
    Tensor x;
    std::optional<int64_t> sections;
    int64_t axis = 0;
    std::optional<std::vector<int64_t>> indices;
  };
  using Operation = DispatchList;
  static std::pair<Operation, std::vector<Tensor>> create(Context& ctx, const Args& args);
};

}  // namespace metallic
