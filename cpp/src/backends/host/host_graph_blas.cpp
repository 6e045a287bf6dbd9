// The graph executor's BLAS nodes (host_graph.hpp): matmul as MatmulCommand runs it
// (parallel_sgemm), and the fused attention node as two GEMMs per (batch entry, KV head).
#include <vector>

#include "backends/host/host_blas.hpp"
#include "backends/host/host_graph.hpp"

namespace metallic::host::graph_executor {

using graph::Node;
using Dims = std::vector<int64_t>;

Value matmul(WorkerPool& pool, const graph::Graph& g, const Node& n,
             const std::vector<Value>& values) {
  auto in_node = [&](size_t i) -> const Node& { return g.node(n.inputs[i]); };
  auto in = [&](size_t i) -> const Value& { return values[n.inputs[i]]; };
  const Node &na = in_node(0), &nb = in_node(1);
  const Value &a = in(0), &b = in(1);
  const size_t rank = n.shape.size(), ra = na.shape.size(), rb = nb.shape.size();
  const auto m = static_cast<uint32_t>(n.shape[rank - 2]);
  const auto cols = static_cast<uint32_t>(n.shape[rank - 1]);
  const auto k = static_cast<uint32_t>(n.transpose_a ? na.shape[ra - 2] : na.shape[ra - 1]);
  Value out(count(n.shape), 0.0f);
  if (out.empty() || k == 0) return out;
  const Dims batch(n.shape.begin(), n.shape.end() - 2);
  const Dims a_batch(na.shape.begin(), na.shape.end() - 2);
  const Dims b_batch(nb.shape.begin(), nb.shape.end() - 2);
  const size_t a_matrix = size_t(m) * k, b_matrix = size_t(k) * cols, c_matrix = size_t(m) * cols;
  const size_t entries = count(batch);
  SgemmProblem p{m,
                 cols,
                 k,
                 1,
                 n.transpose_a,
                 n.transpose_b,
                 static_cast<size_t>(na.shape[ra - 1]),
                 static_cast<size_t>(nb.shape[rb - 1]),
                 cols,
                 a_matrix,
                 b_matrix,
                 c_matrix,
                 1.0f,
                 0.0f,
                 a.data(),
                 b.data(),
                 out.data()};
  // One call when each operand has one matrix per output entry or one for all of them; a
  // partial broadcast ([2, 1] against [1, 3]) takes a call per output entry.
  auto uniform = [&](const Dims& operand) {
    return count(operand) == 1 ||
           broadcast_strides(operand, batch.size()) == broadcast_strides(batch, batch.size());
  };
  if (uniform(a_batch) && uniform(b_batch)) {
    p.batch = static_cast<uint32_t>(entries);
    if (count(a_batch) == 1) p.a_batch_stride = 0;
    if (count(b_batch) == 1) p.b_batch_stride = 0;
    parallel_sgemm(pool, p);
  } else {
    // row_offset walks all but the last dimension: give each batch shape a last one of size 1.
    auto with_last = [](Dims d) {
      d.push_back(1);
      return d;
    };
    const Dims rows_shape = with_last(batch);
    const std::vector<size_t> sa = broadcast_strides(with_last(a_batch), rows_shape.size());
    const std::vector<size_t> sb = broadcast_strides(with_last(b_batch), rows_shape.size());
    for (size_t e = 0; e < entries; ++e) {
      p.a = a.data() + row_offset(e, rows_shape, sa) * a_matrix;
      p.b = b.data() + row_offset(e, rows_shape, sb) * b_matrix;
      p.c = out.data() + e * c_matrix;
      parallel_sgemm(pool, p);
    }
  }
  if (n.dtype != DType::F32) {
    for (float& v : out) v = round_to(n.dtype, v);
  }
  return out;
}

/// The fused node: one task per (batch entry, KV head) computes the scores of the query heads
/// that share the KV head (adjacent in q: head h reads KV head h / (H / Hkv)) with one GEMM,
/// adds the mask, takes the softmax per row and multiplies by v, all in f32.
Value attention(WorkerPool& pool, const graph::Graph& g, const Node& n,
                const std::vector<Value>& values) {
  auto in_node = [&](size_t i) -> const Node& { return g.node(n.inputs[i]); };
  auto in = [&](size_t i) -> const Value& { return values[n.inputs[i]]; };
  const Node &nq = in_node(0), &nk = in_node(1);
  const Value &q = in(0), &k = in(1), &v = in(2);
  const bool has_mask = n.inputs.size() > 3;
  const size_t batch = size_t(nq.shape[0]), heads = size_t(nq.shape[1]);
  const size_t queries = size_t(nq.shape[2]), dim = size_t(nq.shape[3]);
  const size_t kv_heads = size_t(nk.shape[1]), keys = size_t(nk.shape[2]);
  const size_t group = heads / kv_heads, rows = group * queries;
  Value out(q.size(), 0.0f);
  if (out.empty() || keys == 0) return out;  // no key: every row gives 0
  const std::vector<size_t> mask_strides =
      has_mask ? broadcast_strides(in_node(3).shape, 4) : std::vector<size_t>(4, 0);
  const float scale = static_cast<float>(n.value);
  pool.parallel_for(static_cast<uint32_t>(batch * kv_heads), [&](uint32_t first, uint32_t n_tasks) {
    Value scores(rows * keys);
    for (size_t task = first; task < first + n_tasks; ++task) {
      const size_t b = task / kv_heads, kv = task % kv_heads;
      const size_t q_first = (b * heads + kv * group) * queries * dim;  // row 0 of the group
      const size_t kv_first = (b * kv_heads + kv) * keys * dim;
      sgemm(false, true, rows, keys, dim, scale, q.data() + q_first, dim, k.data() + kv_first, dim,
            0.0f, scores.data(), keys);
      for (size_t r = 0; r < rows; ++r) {
        float* row = scores.data() + r * keys;
        if (has_mask) {
          const size_t h = kv * group + r / queries, i = r % queries;
          const float* mask =
              in(3).data() + b * mask_strides[0] + h * mask_strides[1] + i * mask_strides[2];
          for (size_t j = 0; j < keys; ++j) row[j] += mask[j * mask_strides[3]];
        }
        softmax_row(row, keys, 1, DType::F32);
      }
      sgemm(false, false, rows, dim, keys, 1.0f, scores.data(), keys, v.data() + kv_first, dim,
            0.0f, out.data() + q_first, dim);
    }
  });
  if (n.dtype != DType::F32) {
    for (float& x : out) x = round_to(n.dtype, x);
  }
  return out;
}

}  // namespace metallic::host::graph_executor
