// The host device's graph executor: a reference implementation of every graph::NodeKind. Each
// node's value is a float array of the node's shape; a node of a 16-bit dtype rounds every
// result to that dtype, so a node computes in its own precision as the IR says (a graph that
// wants f32 accumulation casts). Matmul and attention go through the vendor BLAS
// (host_graph_blas.cpp); elementwise nodes and softmax spread their rows over the worker pool.
// Values are dropped after their last use, which keeps an unfused attention graph's peak memory to
// a few score arrays.
#include "backends/host/host_graph.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "backends/host/host_device.hpp"
#include "core/float16.hpp"
#include "metallic/error.hpp"

namespace metallic::host {

namespace {

using graph::Node;
using graph::NodeKind;
using Dims = std::vector<int64_t>;
using namespace graph_executor;

class HostGraphExecutable final : public GraphExecutable {
 public:
  explicit HostGraphExecutable(graph::Graph graph) : graph_(std::move(graph)) {}
  const graph::Graph& graph() const override { return graph_; }

 private:
  graph::Graph graph_;
};

/// Below this many elements a node runs on the queue's thread alone (waking workers costs more).
constexpr size_t kParallelElements = size_t(1) << 15;

class Executor {
 public:
  Executor(const graph::Graph& g, WorkerPool& pool) : g_(g), pool_(pool) {}

  void run(const GraphCommand& command);

 private:
  /// Calls task(first, count) over `rows` rows, on the pool when `elements` are enough.
  template <class Task>
  void for_rows(size_t rows, size_t elements, const Task& task) {
    pool_.parallel_for(
        static_cast<uint32_t>(rows),
        [&](uint32_t first, uint32_t n) { task(size_t(first), size_t(n)); },
        elements >= kParallelElements);
  }

  Value read_input(const Node& n, const GraphTensorBinding& b) const;
  void write_output(const Node& n, const Value& v, const GraphTensorBinding& b) const;
  Value evaluate(const Node& n);
  template <class F>
  Value binary(const Node& n, const F& f);
  template <class F>
  Value unary(const Node& n, const F& f);
  Value causal_mask(const Node& n);
  Value softmax(const Node& n);
  Value reduce(const Node& n);
  Value transpose(const Node& n);

  const Value& in(const Node& n, size_t i) const { return values_[n.inputs[i]]; }
  const Node& in_node(const Node& n, size_t i) const { return g_.node(n.inputs[i]); }

  const graph::Graph& g_;
  WorkerPool& pool_;
  std::vector<Value> values_;
};

void Executor::run(const GraphCommand& command) {
  const auto& nodes = g_.nodes();
  if (command.inputs.size() != g_.placeholders().size() ||
      command.outputs.size() != g_.outputs().size()) {
    throw ArgumentError("graph execution: the bindings do not match the graph's inputs/outputs");
  }
  // The last node that reads each value; outputs live to the end.
  std::vector<size_t> last_use(nodes.size(), 0);
  for (size_t i = 0; i < nodes.size(); ++i) {
    for (graph::NodeId input : nodes[i].inputs) last_use[input] = i;
  }
  for (graph::NodeId id : g_.outputs()) last_use[id] = nodes.size();
  std::vector<size_t> placeholder_index(nodes.size(), 0);
  for (size_t i = 0; i < g_.placeholders().size(); ++i) placeholder_index[g_.placeholders()[i]] = i;

  values_.assign(nodes.size(), {});
  for (size_t i = 0; i < nodes.size(); ++i) {
    const Node& n = nodes[i];
    values_[i] = n.kind == NodeKind::Placeholder
                     ? read_input(n, command.inputs[placeholder_index[i]])
                     : evaluate(n);
    for (graph::NodeId input : n.inputs) {
      if (last_use[input] == i) Value().swap(values_[input]);
    }
  }
  for (size_t i = 0; i < g_.outputs().size(); ++i) {
    const graph::NodeId id = g_.outputs()[i];
    write_output(g_.node(id), values_[id], command.outputs[i]);
  }
}

Value Executor::read_input(const Node& n, const GraphTensorBinding& b) const {
  const size_t elements = count(n.shape);
  if (b.offset + dtype_nbytes(n.dtype, elements) > b.buffer->length()) {
    throw ArgumentError("graph placeholder " + n.name + ": the buffer is too small");
  }
  const auto* src = static_cast<const uint8_t*>(b.buffer->contents()) + b.offset;
  Value v(elements);
  if (elements == 0) return v;  // (an empty vector's data() may be null: no memcpy from it)
  if (n.dtype == DType::F32) {
    std::memcpy(v.data(), src, elements * 4);
  } else {
    const auto* h = reinterpret_cast<const uint16_t*>(src);
    for (size_t i = 0; i < elements; ++i) {
      v[i] = n.dtype == DType::F16 ? f16_to_float(h[i]) : bf16_to_float(h[i]);
    }
  }
  return v;
}

void Executor::write_output(const Node& n, const Value& v, const GraphTensorBinding& b) const {
  if (b.offset + dtype_nbytes(n.dtype, v.size()) > b.buffer->length()) {
    throw ArgumentError("graph output: the buffer is too small");
  }
  auto* dst = static_cast<uint8_t*>(b.buffer->contents()) + b.offset;
  if (v.empty()) return;  // (an empty vector's data() may be null: no memcpy to or from it)
  if (n.dtype == DType::F32) {
    std::memcpy(dst, v.data(), v.size() * 4);
    return;
  }
  auto* h = reinterpret_cast<uint16_t*>(dst);
  for (size_t i = 0; i < v.size(); ++i) {
    h[i] = n.dtype == DType::F16 ? float_to_f16(v[i]) : float_to_bf16(v[i]);
  }
}

template <class F>
Value Executor::binary(const Node& n, const F& f) {
  const Value &a = in(n, 0), &b = in(n, 1);
  const size_t rank = n.shape.size();
  const std::vector<size_t> sa = broadcast_strides(in_node(n, 0).shape, rank);
  const std::vector<size_t> sb = broadcast_strides(in_node(n, 1).shape, rank);
  Value out(count(n.shape));
  const size_t cols = rank ? static_cast<size_t>(n.shape.back()) : 1;
  const size_t rows = cols ? out.size() / cols : 0;
  const size_t ca = rank ? sa.back() : 0, cb = rank ? sb.back() : 0;
  for_rows(rows, out.size(), [&](size_t first, size_t n_rows) {
    for (size_t r = first; r < first + n_rows; ++r) {
      const float* pa = a.data() + (rank ? row_offset(r, n.shape, sa) : 0);
      const float* pb = b.data() + (rank ? row_offset(r, n.shape, sb) : 0);
      float* po = out.data() + r * cols;
      for (size_t j = 0; j < cols; ++j) po[j] = round_to(n.dtype, f(pa[j * ca], pb[j * cb]));
    }
  });
  return out;
}

template <class F>
Value Executor::unary(const Node& n, const F& f) {
  Value out = in(n, 0);
  for_rows(out.size() ? 1 + (out.size() - 1) / 4096 : 0, out.size(),
           [&](size_t first, size_t n_rows) {
             const size_t end = std::min(out.size(), (first + n_rows) * 4096);
             for (size_t i = first * 4096; i < end; ++i) out[i] = round_to(n.dtype, f(out[i]));
           });
  return out;
}

Value Executor::causal_mask(const Node& n) {
  Value out = in(n, 0);
  const size_t rank = n.shape.size();
  const auto queries = static_cast<int64_t>(n.shape[rank - 2]);
  const auto keys = static_cast<size_t>(n.shape[rank - 1]);
  const size_t rows = keys ? out.size() / keys : 0;
  for (size_t r = 0; r < rows; ++r) {
    const int64_t i = static_cast<int64_t>(r) % queries;
    for (size_t j = 0; j < keys; ++j) {
      if (static_cast<int64_t>(j) > i + n.offset) {
        out[r * keys + j] = -std::numeric_limits<float>::infinity();
      }
    }
  }
  return out;
}

Value Executor::softmax(const Node& n) {
  Value out = in(n, 0);
  const auto axis = static_cast<size_t>(n.axes[0]);
  const auto len = static_cast<size_t>(n.shape[axis]);
  const size_t inner =
      count(Dims(n.shape.begin() + static_cast<ptrdiff_t>(axis) + 1, n.shape.end()));
  const size_t rows = len ? out.size() / len : 0;  // outer * inner
  for_rows(rows, out.size(), [&](size_t first, size_t n_rows) {
    for (size_t r = first; r < first + n_rows; ++r) {
      softmax_row(out.data() + r / inner * len * inner + r % inner, len, inner, n.dtype);
    }
  });
  return out;
}

Value Executor::reduce(const Node& n) {
  const Value& x = in(n, 0);
  const Dims& shape = in_node(n, 0).shape;
  const bool is_max = n.kind == NodeKind::ReduceMax;
  Value out(count(n.shape), is_max ? -std::numeric_limits<float>::infinity() : 0.0f);
  const std::vector<size_t> out_strides = broadcast_strides(n.shape, n.shape.size());
  std::vector<size_t> index(shape.size(), 0);
  for (size_t i = 0; i < x.size(); ++i) {
    size_t o = 0;
    for (size_t d = 0; d < shape.size(); ++d) o += index[d] * out_strides[d];
    out[o] = is_max ? std::max(out[o], x[i]) : out[o] + x[i];
    for (size_t d = shape.size(); d-- > 0;) {  // next multi-index
      if (++index[d] < static_cast<size_t>(shape[d])) break;
      index[d] = 0;
    }
  }
  for (float& v : out) v = round_to(n.dtype, v);
  return out;
}

Value Executor::transpose(const Node& n) {
  const Value& x = in(n, 0);
  const std::vector<size_t> in_strides = broadcast_strides(in_node(n, 0).shape, n.shape.size());
  std::vector<size_t> strides(n.shape.size());  // input stride of each output dimension
  for (size_t d = 0; d < n.shape.size(); ++d) {
    strides[d] = n.shape[d] == 1 ? 0 : in_strides[static_cast<size_t>(n.axes[d])];
  }
  Value out(x.size());
  std::vector<size_t> index(n.shape.size(), 0);
  for (size_t i = 0; i < out.size(); ++i) {
    size_t s = 0;
    for (size_t d = 0; d < index.size(); ++d) s += index[d] * strides[d];
    out[i] = x[s];
    for (size_t d = index.size(); d-- > 0;) {
      if (++index[d] < static_cast<size_t>(n.shape[d])) break;
      index[d] = 0;
    }
  }
  return out;
}

Value Executor::evaluate(const Node& n) {
  switch (n.kind) {
    case NodeKind::Placeholder:
      break;  // read by run()
    case NodeKind::Constant:
      return Value(count(n.shape), round_to(n.dtype, static_cast<float>(n.value)));
    case NodeKind::MatMul:
      return matmul(pool_, g_, n, values_);
    case NodeKind::Add:
      return binary(n, [](float a, float b) { return a + b; });
    case NodeKind::Sub:
      return binary(n, [](float a, float b) { return a - b; });
    case NodeKind::Mul:
      return binary(n, [](float a, float b) { return a * b; });
    case NodeKind::Div:
      return binary(n, [](float a, float b) { return a / b; });
    case NodeKind::Maximum:
      return binary(n, [](float a, float b) { return std::max(a, b); });
    case NodeKind::Scale: {
      const auto factor = static_cast<float>(n.value);
      return unary(n, [factor](float x) { return x * factor; });
    }
    case NodeKind::Exp:
      return unary(n, [](float x) { return std::exp(x); });
    case NodeKind::CausalMask:
      return causal_mask(n);
    case NodeKind::AdditiveMask: {
      const DType dtype = n.dtype;  // the mask is cast to x's dtype first
      return binary(n, [dtype](float x, float mask) { return x + round_to(dtype, mask); });
    }
    case NodeKind::Softmax:
      return softmax(n);
    case NodeKind::ReduceMax:
    case NodeKind::ReduceSum:
      return reduce(n);
    case NodeKind::Cast:
    case NodeKind::Reshape:
      return unary(n, [](float x) { return x; });  // Cast rounds to the node's dtype
    case NodeKind::Transpose:
      return transpose(n);
    case NodeKind::ScaledDotProductAttention:
      return attention(pool_, g_, n, values_);
  }
  throw MetallicError(std::string("graph executor: no implementation of ") +
                      node_kind_name(n.kind));
}

}  // namespace

// The helpers of host_graph.hpp.
namespace graph_executor {

size_t count(const std::vector<int64_t>& shape) {
  size_t n = 1;
  for (int64_t d : shape) n *= static_cast<size_t>(d);
  return n;
}

float round_to(DType dtype, float v) {
  if (dtype == DType::F16) return f16_to_float(float_to_f16(v));
  if (dtype == DType::BF16) return bf16_to_float(float_to_bf16(v));
  return v;
}

std::vector<size_t> broadcast_strides(const std::vector<int64_t>& shape, size_t rank) {
  std::vector<size_t> out(rank, 0);
  size_t stride = 1;
  for (size_t i = shape.size(); i-- > 0;) {
    const size_t d = rank - shape.size() + i;
    out[d] = shape[i] == 1 ? 0 : stride;
    stride *= static_cast<size_t>(shape[i]);
  }
  return out;
}

size_t row_offset(size_t row, const std::vector<int64_t>& shape,
                  const std::vector<size_t>& strides) {
  size_t offset = 0;
  for (size_t d = shape.size() - 1; d-- > 0;) {
    const auto size = static_cast<size_t>(shape[d]);
    offset += row % size * strides[d];
    row /= size;
  }
  return offset;
}

void softmax_row(float* x, size_t len, size_t stride, DType dtype) {
  float max = -std::numeric_limits<float>::infinity();
  for (size_t j = 0; j < len; ++j) max = std::max(max, x[j * stride]);
  if (max == -std::numeric_limits<float>::infinity()) {
    for (size_t j = 0; j < len; ++j) x[j * stride] = 0.0f;
    return;
  }
  float sum = 0.0f;
  for (size_t j = 0; j < len; ++j) {
    x[j * stride] = std::exp(x[j * stride] - max);
    sum += x[j * stride];
  }
  for (size_t j = 0; j < len; ++j) x[j * stride] = round_to(dtype, x[j * stride] / sum);
}

}  // namespace graph_executor

GraphExecutablePtr HostDevice::compile_graph(const graph::Graph& graph) {
  if (graph.outputs().empty()) throw ArgumentError("compile_graph: the graph has no outputs");
  for (const Node& n : graph.nodes()) {
    if (!dtype_is_float(n.dtype)) {  // every node kind computes on floats
      throw DTypeError(std::string("compile_graph: the host executor takes f32, f16 and bf16 "
                                   "nodes, not ") +
                       dtype_name(n.dtype) + " (" + node_kind_name(n.kind) + " " + n.name + ")");
    }
  }
  return std::make_shared<HostGraphExecutable>(graph);
}

void HostQueue::run_graph(const GraphCommand& command) {
  Executor(command.executable->graph(), workers_).run(command);
}

}  // namespace metallic::host
