// Permute / transpose, materialised by the copy kernels (metal/copy): a contiguous tensor whose
// axis i is x's axis axes[i]. (Tensor::permute gives the same as a view, without copying.)
#pragma once

#include <optional>
#include <utility>
#include <vector>

#include "metallic/op_registry.hpp"
#include "metallic/ops/dispatch_list.hpp"

namespace metallic {

struct PermuteOp {
  static constexpr const char* name = "permute";
  struct Args {
    Tensor x;
    std::vector<int64_t> axes;
  };
  using Operation = DispatchList;
  static std::pair<Operation, Tensor> create(Context& ctx, const Args& args);
};

/// As numpy's transpose: axes None reverses the axes.
struct TransposeOp {
  static constexpr const char* name = "transpose";
  struct Args {
    Tensor x;
    std::optional<std::vector<int64_t>> axes;
  };
  using Operation = DispatchList;
  static std::pair<Operation, Tensor> create(Context& ctx, const Args& args);
};

}  // namespace metallic
