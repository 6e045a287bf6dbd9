// matmul: out = alpha * op(a) @ op(b) + beta * c over broadcast batch dimensions, with backends
// (backend_registry.hpp): "msl" (metal/matmul's simdgroup_matrix GEMM; the matmul_q8_gemv GEMV
// for M <= 8 rows and for quantized weights), "mps" (MPSMatrixMultiplication, Metal) and "blas"
// (the vendor BLAS, host device), both run as a device-library MatmulCommand, and "mpsgraph"
// (the matmul graph kernel, docs/graph-kernels.md).
#pragma once

#include <optional>
#include <utility>

#include "metallic/context.hpp"
#include "metallic/graph_kernel.hpp"

namespace metallic {

/// The sizes of op(a) (M x K) @ op(b) (K x N).
struct MatmulDims {
  int64_t m, n, k;
};
/// Checks that a and b are contiguous, at least 2-d, with equal inner sizes (errors start with
/// `op`), and returns M, N, K.
MatmulDims matmul_dims(const char* op, const Tensor& a, const Tensor& b, bool transpose_a,
                       bool transpose_b);
/// The device-library command for `batch` packed products of `d`'s sizes in `dtype` (buffers
/// are bound by the encoder); `b_batched` false: one b for every batch entry.
MatmulCommand matmul_command(const MatmulDims& d, bool transpose_a, bool transpose_b, double alpha,
                             double beta, DType dtype, int64_t batch, bool b_batched);

struct MatmulOp {
  static constexpr const char* name = "matmul";
  struct Args {
    Tensor a;  // [..., M, K] ([..., K, M] with transpose_a)
    Tensor b;  // [..., K, N] ([..., N, K] with transpose_b); q8_0/q4_0 [N, K] with transpose_b
    bool transpose_a = false;
    bool transpose_b = false;
    double alpha = 1.0;
    double beta = 0.0;
    std::optional<Tensor> c;  // added as beta * c; out's shape and dtype
  };
  struct Operation {
    enum class Path { Gemm, Library, Graph, Done };  // Done: a composite call encoded it
    Path path = Path::Done;
    std::optional<GraphKernelCall> graph;  // Path::Graph
    Tensor a, b, c, out;
    KernelFunction function{};
    MatmulCommand command;  // the problem (Gemm reads its sizes, strides and scales too)
    uint32_t a_batches = 1, b_batches = 1;  // output batch entry z uses z % count of each
    void encode(ComputeKernelEncoder& e) const;
    void encode_library(ComputeKernelEncoder& e) const;  // the MatmulCommand(s)
  };
  static std::pair<Operation, Tensor> create(Context& ctx, const Args& args);
};

}  // namespace metallic
