// Creation ops (metal/creation): tensors filled on the device — full/zeros/ones, arange, and
// seeded random numbers (Philox4x32-10: the same seed gives the same numbers on every device).
#pragma once

#include <optional>
#include <utility>
#include <vector>

#include "metallic/op_registry.hpp"
#include "metallic/ops/dispatch_list.hpp"

namespace metallic {

struct FullOp {
  static constexpr const char* name = "full";
  struct Args {
    std::vector<int64_t> shape;
    double value = 0;
    DType dtype = DType::F32;
  };
  using Operation = DispatchList;
  static std::pair<Operation, Tensor> create(Context& ctx, const Args& args);
};

/// The parameters of zeros and ones.
struct ShapeDTypeArgs {
  std::vector<int64_t> shape;
  DType dtype = DType::F32;
};

struct ZerosOp {
  static constexpr const char* name = "zeros";
  using Args = ShapeDTypeArgs;
  using Operation = DispatchList;
  static std::pair<Operation, Tensor> create(Context& ctx, const Args& args);
};

struct OnesOp {
  static constexpr const char* name = "ones";
  using Args = ShapeDTypeArgs;
  using Operation = DispatchList;
  static std::pair<Operation, Tensor> create(Context& ctx, const Args& args);
};

/// numpy's arange: start, start + step, ... below stop (arange(n) is 0 .. n-1).
struct ArangeOp {
  static constexpr const char* name = "arange";
  struct Args {
    double start = 0;
    std::optional<double> stop;
    double step = 1;
    std::optional<DType> dtype;
  };
  using Operation = DispatchList;
  static std::pair<Operation, Tensor> create(Context& ctx, const Args& args);
};

/// The raw Philox4x32-10 stream as u32: element i is word i % 4 of block (counter i / 4, key seed).
struct RandomBitsOp {
  static constexpr const char* name = "random_bits";
  struct Args {
    std::vector<int64_t> shape;
    int64_t seed = 0;
  };
  using Operation = DispatchList;
  static std::pair<Operation, Tensor> create(Context& ctx, const Args& args);
};

/// Uniform in [low, high): low + (high - low) * u, u = (bits >> 8) * 2^-24.
struct RandomUniformOp {
  static constexpr const char* name = "random_uniform";
  struct Args {
    std::vector<int64_t> shape;
    int64_t seed = 0;
    double low = 0;
    double high = 1;
    DType dtype = DType::F32;
  };
  using Operation = DispatchList;
  static std::pair<Operation, Tensor> create(Context& ctx, const Args& args);
};

/// Normal: loc + scale * z, z by Box-Muller from pairs of the same uniform bits.
struct RandomNormalOp {
  static constexpr const char* name = "random_normal";
  struct Args {
    std::vector<int64_t> shape;
    int64_t seed = 0;
    double loc = 0;
    double scale = 1;
    DType dtype = DType::F32;
  };
  using Operation = DispatchList;
  static std::pair<Operation, Tensor> create(Context& ctx, const Args& args);
};

}  // namespace metallic
