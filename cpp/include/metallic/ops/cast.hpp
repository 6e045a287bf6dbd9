// Cast (metal/copy's converting kernels): x converted to another dtype, as numpy's astype with
// casting="unsafe" (float -> integer: NaN is 0, out-of-range values saturate).
#pragma once

#include <utility>

#include "metallic/op_registry.hpp"
#include "metallic/ops/dispatch_list.hpp"

namespace metallic {

struct AstypeOp {
  static constexpr const char* name = "astype";
  struct Args {
    Tensor x;
    DType dtype = DType::F32;
  };
  using Operation = DispatchList;
  static std::pair<Operation, Tensor> create(Context& ctx, const Args& args);
};

}  // namespace metallic
