// The host graph executor's shared pieces (host_graph.cpp, host_graph_blas.cpp): a node's value
// is a float array of its shape, rounded to its dtype.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "backends/host/worker_pool.hpp"
#include "metallic/graph.hpp"

namespace metallic::host::graph_executor {

using Value = std::vector<float>;

/// Elements of `shape`.
size_t count(const std::vector<int64_t>& shape);
/// `v` rounded to `dtype` (f32: unchanged).
float round_to(DType dtype, float v);
/// Row-major strides of `shape` seen from an output of rank `rank`: right-aligned, 0 along
/// the dimensions `shape` broadcasts (size 1 or missing).
std::vector<size_t> broadcast_strides(const std::vector<int64_t>& shape, size_t rank);
/// The offset of row `row` (an index over all but the last dimension of `shape`) in an operand
/// with `strides` (broadcast_strides).
size_t row_offset(size_t row, const std::vector<int64_t>& shape,
                  const std::vector<size_t>& strides);
/// Softmax of `len` values `stride` apart, max-subtracted, rounded to `dtype`; a row with no
/// finite value (every key masked) gives 0, as the legacy kernels do.
void softmax_row(float* x, size_t len, size_t stride, DType dtype);

/// The MatMul node `n` of `g` over the values computed so far (one per node).
Value matmul(WorkerPool& pool, const graph::Graph& g, const graph::Node& n,
             const std::vector<Value>& values);
/// The ScaledDotProductAttention node `n` of `g`, accumulating in f32.
Value attention(WorkerPool& pool, const graph::Graph& g, const graph::Node& n,
                const std::vector<Value>& values);

}  // namespace metallic::host::graph_executor
