// Copy ops (metal/copy): any strided view (rank <= 8) to a contiguous tensor, and a tensor or a
// scalar written into a view (slice assignment).
#pragma once

#include <utility>

#include "metallic/op_registry.hpp"
#include "metallic/ops/dispatch_list.hpp"

namespace metallic {

/// A contiguous copy of x (always a new tensor, as numpy's copy).
struct CopyOp {
  static constexpr const char* name = "copy";
  struct Args {
    Tensor x;
  };
  using Operation = DispatchList;
  static std::pair<Operation, Tensor> create(Context& ctx, const Args& args);
};

/// x itself when it is contiguous, else a contiguous copy.
struct ContiguousOp {
  static constexpr const char* name = "contiguous";
  struct Args {
    Tensor x;
  };
  using Operation = DispatchList;
  static std::pair<Operation, Tensor> create(Context& ctx, const Args& args);
};

/// dst[...] = src (numpy's copyto): src broadcast to dst's shape and converted to its dtype, or a
/// scalar; dst may be any view. Returns dst.
struct CopyToOp {
  static constexpr const char* name = "copyto";
  struct Args {
    Tensor dst;
    TensorOrScalar src = 0.0;
  };
  using Operation = DispatchList;
  static std::pair<Operation, Tensor> create(Context& ctx, const Args& args);
};

}  // namespace metallic
