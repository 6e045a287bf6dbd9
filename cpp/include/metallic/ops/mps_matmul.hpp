// Matrix multiplication by the device's own library: MPSMatrixMultiplication on Metal (an "MPS
// call kernel": no .metal file), a reference GEMM on the host device.
#pragma once

#include <utility>

#include "metallic/context.hpp"

namespace metallic {

struct MpsMatmulOp {
  static constexpr const char* name = "mps_matmul";
  struct Args {
    Tensor a;  // [..., M, K] ([..., K, M] with transpose_a)
    Tensor b;  // [K, N] or [..., K, N] ([..., N, K] with transpose_b)
    bool transpose_a = false;
    bool transpose_b = false;
    double alpha = 1.0;
  };
  struct Operation {
    Tensor a, b, out;
    MatmulCommand command;
    void encode(ComputeKernelEncoder& e) const;
  };
  static std::pair<Operation, Tensor> create(Context& ctx, const Args& args);
};

}  // namespace metallic
