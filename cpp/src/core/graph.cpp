// The graph IR's builder: every node's shape and dtype inferred from its operands, mismatches
// rejected with errors that name the node kind and the shapes (graph.hpp).
#include "metallic/graph.hpp"

#include <algorithm>
#include <cstdio>
#include <sstream>

#include "metallic/error.hpp"

namespace metallic::graph {

namespace {

std::string dims_text(const std::vector<int64_t>& dims) {
  std::string s = "[";
  for (size_t i = 0; i < dims.size(); ++i) s += (i ? ", " : "") + std::to_string(dims[i]);
  return s + "]";
}

[[noreturn]] void shape_error(NodeKind kind, const std::string& what) {
  throw ShapeError(std::string("graph ") + node_kind_name(kind) + ": " + what);
}

bool is_float(DType t) {
  return t == DType::F32 || t == DType::F16 || t == DType::BF16;
}

/// numpy's broadcast of two shapes (right-aligned; each pair equal or one of them 1).
std::vector<int64_t> broadcast(NodeKind kind, const std::vector<int64_t>& a,
                               const std::vector<int64_t>& b) {
  const size_t rank = std::max(a.size(), b.size());
  std::vector<int64_t> out(rank);
  for (size_t i = 0; i < rank; ++i) {
    const int64_t da = i + a.size() < rank ? 1 : a[i + a.size() - rank];
    const int64_t db = i + b.size() < rank ? 1 : b[i + b.size() - rank];
    if (da != db && da != 1 && db != 1) {
      shape_error(kind, "shapes " + dims_text(a) + " and " + dims_text(b) + " do not broadcast");
    }
    out[i] = da == 1 ? db : da;
  }
  return out;
}

/// Whether `from` broadcasts to `to` without changing it (each dimension equal, or 1 in `from`).
bool broadcasts_to(const std::vector<int64_t>& from, const std::vector<int64_t>& to) {
  if (from.size() > to.size()) return false;
  for (size_t i = 0; i < from.size(); ++i) {
    const int64_t f = from[from.size() - 1 - i], t = to[to.size() - 1 - i];
    if (f != t && f != 1) return false;
  }
  return true;
}

/// Normalises axis `axis` of a rank-`rank` node (negative counts from the end).
int64_t normalise_axis(NodeKind kind, int64_t axis, size_t rank) {
  const auto r = static_cast<int64_t>(rank);
  if (axis < -r || axis >= r) {
    shape_error(
        kind, "axis " + std::to_string(axis) + " is out of range for rank " + std::to_string(rank));
  }
  return axis < 0 ? axis + r : axis;
}

int64_t element_count(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

void check_dims(NodeKind kind, const std::vector<int64_t>& shape) {
  for (int64_t d : shape) {
    if (d < 0) shape_error(kind, "negative dimension in " + dims_text(shape));
  }
}

}  // namespace

const char* node_kind_name(NodeKind kind) {
  switch (kind) {
    case NodeKind::Placeholder:
      return "placeholder";
    case NodeKind::Constant:
      return "constant";
    case NodeKind::MatMul:
      return "matmul";
    case NodeKind::Add:
      return "add";
    case NodeKind::Sub:
      return "sub";
    case NodeKind::Mul:
      return "mul";
    case NodeKind::Div:
      return "div";
    case NodeKind::Maximum:
      return "maximum";
    case NodeKind::Scale:
      return "scale";
    case NodeKind::Exp:
      return "exp";
    case NodeKind::CausalMask:
      return "causal_mask";
    case NodeKind::AdditiveMask:
      return "additive_mask";
    case NodeKind::Softmax:
      return "softmax";
    case NodeKind::ReduceMax:
      return "reduce_max";
    case NodeKind::ReduceSum:
      return "reduce_sum";
    case NodeKind::Cast:
      return "cast";
    case NodeKind::Transpose:
      return "transpose";
    case NodeKind::Reshape:
      return "reshape";
    case NodeKind::ScaledDotProductAttention:
      return "scaled_dot_product_attention";
  }
  return "?";
}

const Node& Graph::node(NodeId id) const {
  if (id >= nodes_.size()) {
    throw ArgumentError("graph: node " + std::to_string(id) + " does not exist (the graph has " +
                        std::to_string(nodes_.size()) + " nodes)");
  }
  return nodes_[id];
}

NodeId Graph::add_node(Node node) {
  for (NodeId input : node.inputs) this->node(input);  // operands must exist
  nodes_.push_back(std::move(node));
  return static_cast<NodeId>(nodes_.size() - 1);
}

NodeId Graph::placeholder(const std::string& name, DType dtype, std::vector<int64_t> shape) {
  check_dims(NodeKind::Placeholder, shape);
  Node n;
  n.kind = NodeKind::Placeholder;
  n.dtype = dtype;
  n.shape = std::move(shape);
  n.name = name;
  const NodeId id = add_node(std::move(n));
  placeholders_.push_back(id);
  return id;
}

NodeId Graph::constant(double value, DType dtype, std::vector<int64_t> shape) {
  check_dims(NodeKind::Constant, shape);
  Node n;
  n.kind = NodeKind::Constant;
  n.dtype = dtype;
  n.shape = std::move(shape);
  n.value = value;
  return add_node(std::move(n));
}

NodeId Graph::matmul(NodeId a, NodeId b, bool transpose_a, bool transpose_b) {
  const Node &x = node(a), &y = node(b);
  if (x.shape.size() < 2 || y.shape.size() < 2) {
    shape_error(NodeKind::MatMul, "operands need at least 2 dimensions, got " + dims_text(x.shape) +
                                      " and " + dims_text(y.shape));
  }
  if (x.dtype != y.dtype) {
    throw DTypeError(std::string("graph matmul: operands must have one dtype, got ") +
                     dtype_name(x.dtype) + " and " + dtype_name(y.dtype) + " (insert a cast)");
  }
  const size_t rx = x.shape.size(), ry = y.shape.size();
  const int64_t m = transpose_a ? x.shape[rx - 1] : x.shape[rx - 2];
  const int64_t k = transpose_a ? x.shape[rx - 2] : x.shape[rx - 1];
  const int64_t kb = transpose_b ? y.shape[ry - 1] : y.shape[ry - 2];
  const int64_t n_cols = transpose_b ? y.shape[ry - 2] : y.shape[ry - 1];
  if (k != kb) {
    shape_error(NodeKind::MatMul, "inner dimensions differ: " + dims_text(x.shape) +
                                      (transpose_a ? " (transposed)" : "") + " and " +
                                      dims_text(y.shape) + (transpose_b ? " (transposed)" : ""));
  }
  Node n;
  n.kind = NodeKind::MatMul;
  n.dtype = x.dtype;
  n.shape = broadcast(NodeKind::MatMul, {x.shape.begin(), x.shape.end() - 2},
                      {y.shape.begin(), y.shape.end() - 2});
  n.shape.push_back(m);
  n.shape.push_back(n_cols);
  n.inputs = {a, b};
  n.transpose_a = transpose_a;
  n.transpose_b = transpose_b;
  return add_node(std::move(n));
}

namespace {

Node binary_node(const Graph& g, NodeKind kind, NodeId a, NodeId b) {
  const Node &x = g.node(a), &y = g.node(b);
  if (x.dtype != y.dtype) {
    throw DTypeError(std::string("graph ") + node_kind_name(kind) +
                     ": operands must have one dtype, got " + dtype_name(x.dtype) + " and " +
                     dtype_name(y.dtype) + " (insert a cast)");
  }
  Node n;
  n.kind = kind;
  n.dtype = x.dtype;
  n.shape = broadcast(kind, x.shape, y.shape);
  n.inputs = {a, b};
  return n;
}

Node float_unary_node(const Graph& g, NodeKind kind, NodeId x) {
  const Node& in = g.node(x);
  if (!is_float(in.dtype)) {
    throw DTypeError(std::string("graph ") + node_kind_name(kind) +
                     ": needs a floating operand, got " + dtype_name(in.dtype));
  }
  Node n;
  n.kind = kind;
  n.dtype = in.dtype;
  n.shape = in.shape;
  n.inputs = {x};
  return n;
}

}  // namespace

NodeId Graph::add(NodeId a, NodeId b) {
  return add_node(binary_node(*this, NodeKind::Add, a, b));
}
NodeId Graph::sub(NodeId a, NodeId b) {
  return add_node(binary_node(*this, NodeKind::Sub, a, b));
}
NodeId Graph::mul(NodeId a, NodeId b) {
  return add_node(binary_node(*this, NodeKind::Mul, a, b));
}
NodeId Graph::div(NodeId a, NodeId b) {
  return add_node(binary_node(*this, NodeKind::Div, a, b));
}
NodeId Graph::maximum(NodeId a, NodeId b) {
  return add_node(binary_node(*this, NodeKind::Maximum, a, b));
}

NodeId Graph::scale(NodeId x, double factor) {
  Node n = float_unary_node(*this, NodeKind::Scale, x);
  n.value = factor;
  return add_node(std::move(n));
}

NodeId Graph::exp(NodeId x) {
  return add_node(float_unary_node(*this, NodeKind::Exp, x));
}

NodeId Graph::causal_mask(NodeId x, int64_t offset) {
  Node n = float_unary_node(*this, NodeKind::CausalMask, x);
  if (n.shape.size() < 2) {
    shape_error(NodeKind::CausalMask, "needs [..., queries, keys], got " + dims_text(n.shape));
  }
  n.offset = offset;
  return add_node(std::move(n));
}

NodeId Graph::additive_mask(NodeId x, NodeId mask) {
  Node n = float_unary_node(*this, NodeKind::AdditiveMask, x);
  const Node& m = node(mask);
  if (!is_float(m.dtype)) {
    throw DTypeError(std::string("graph additive_mask: the mask must be floating, got ") +
                     dtype_name(m.dtype));
  }
  if (!broadcasts_to(m.shape, n.shape)) {
    shape_error(NodeKind::AdditiveMask,
                "mask " + dims_text(m.shape) + " does not broadcast to " + dims_text(n.shape));
  }
  n.inputs.push_back(mask);
  return add_node(std::move(n));
}

NodeId Graph::softmax(NodeId x, int64_t axis) {
  Node n = float_unary_node(*this, NodeKind::Softmax, x);
  n.axes = {normalise_axis(NodeKind::Softmax, axis, n.shape.size())};
  return add_node(std::move(n));
}

namespace {

Node reduce_node(const Graph& g, NodeKind kind, NodeId x, std::vector<int64_t> axes) {
  Node n = float_unary_node(g, kind, x);
  for (int64_t& axis : axes) axis = normalise_axis(kind, axis, n.shape.size());
  std::sort(axes.begin(), axes.end());
  if (axes.empty() || std::adjacent_find(axes.begin(), axes.end()) != axes.end()) {
    shape_error(kind, "needs distinct axes, got " + dims_text(axes));
  }
  for (int64_t axis : axes) n.shape[static_cast<size_t>(axis)] = 1;
  n.axes = std::move(axes);
  return n;
}

}  // namespace

NodeId Graph::reduce_max(NodeId x, std::vector<int64_t> axes) {
  return add_node(reduce_node(*this, NodeKind::ReduceMax, x, std::move(axes)));
}

NodeId Graph::reduce_sum(NodeId x, std::vector<int64_t> axes) {
  return add_node(reduce_node(*this, NodeKind::ReduceSum, x, std::move(axes)));
}

NodeId Graph::cast(NodeId x, DType dtype) {
  Node n = float_unary_node(*this, NodeKind::Cast, x);
  if (!is_float(dtype)) {
    throw DTypeError(std::string("graph cast: casts between f32, f16 and bf16, not to ") +
                     dtype_name(dtype));
  }
  n.dtype = dtype;
  return add_node(std::move(n));
}

NodeId Graph::transpose(NodeId x, std::vector<int64_t> permutation) {
  const Node& in = node(x);
  std::vector<int64_t> seen(in.shape.size(), 0);
  if (permutation.size() != in.shape.size()) {
    shape_error(NodeKind::Transpose, "permutation " + dims_text(permutation) +
                                         " does not fit rank " + std::to_string(in.shape.size()));
  }
  Node n;
  n.kind = NodeKind::Transpose;
  n.dtype = in.dtype;
  n.inputs = {x};
  for (int64_t& axis : permutation) {
    axis = normalise_axis(NodeKind::Transpose, axis, in.shape.size());
    if (seen[static_cast<size_t>(axis)]++) {
      shape_error(NodeKind::Transpose, "permutation repeats axis " + std::to_string(axis));
    }
    n.shape.push_back(in.shape[static_cast<size_t>(axis)]);
  }
  n.axes = std::move(permutation);
  return add_node(std::move(n));
}

NodeId Graph::reshape(NodeId x, std::vector<int64_t> shape) {
  const Node& in = node(x);
  check_dims(NodeKind::Reshape, shape);
  if (element_count(shape) != element_count(in.shape)) {
    shape_error(NodeKind::Reshape, "cannot reshape " + dims_text(in.shape) + " to " +
                                       dims_text(shape) + " (element counts differ)");
  }
  Node n;
  n.kind = NodeKind::Reshape;
  n.dtype = in.dtype;
  n.shape = std::move(shape);
  n.inputs = {x};
  return add_node(std::move(n));
}

NodeId Graph::scaled_dot_product_attention(NodeId q, NodeId k, NodeId v, std::optional<NodeId> mask,
                                           double scale) {
  constexpr NodeKind kind = NodeKind::ScaledDotProductAttention;
  const Node &nq = node(q), &nk = node(k), &nv = node(v);
  if (nq.shape.size() != 4 || nk.shape.size() != 4 || nv.shape != nk.shape) {
    shape_error(kind, "needs q [B, H, Sq, D] and k, v [B, Hkv, Skv, D], got " +
                          dims_text(nq.shape) + ", " + dims_text(nk.shape) + " and " +
                          dims_text(nv.shape));
  }
  if (nk.dtype != nq.dtype || nv.dtype != nq.dtype || !is_float(nq.dtype)) {
    throw DTypeError(std::string("graph scaled_dot_product_attention: q, k and v must have one "
                                 "floating dtype, got ") +
                     dtype_name(nq.dtype) + ", " + dtype_name(nk.dtype) + " and " +
                     dtype_name(nv.dtype));
  }
  if (nk.shape[0] != nq.shape[0] || nk.shape[3] != nq.shape[3] || nk.shape[1] == 0 ||
      nq.shape[1] % nk.shape[1] != 0) {
    shape_error(kind, "k " + dims_text(nk.shape) + " does not fit q " + dims_text(nq.shape) +
                          " (equal batch and head dim, q's heads a multiple of k's)");
  }
  Node n;
  n.kind = kind;
  n.dtype = nq.dtype;
  n.shape = nq.shape;
  n.inputs = {q, k, v};
  n.value = scale;
  if (mask) {
    const Node& m = node(*mask);
    if (m.dtype != nq.dtype) {
      throw DTypeError(std::string("graph scaled_dot_product_attention: the mask must have q's "
                                   "dtype (") +
                       dtype_name(nq.dtype) + "), got " + dtype_name(m.dtype));
    }
    const std::vector<int64_t> scores = {nq.shape[0], nq.shape[1], nq.shape[2], nk.shape[2]};
    if (!broadcasts_to(m.shape, scores)) {
      shape_error(kind, "mask " + dims_text(m.shape) + " does not broadcast to the scores " +
                            dims_text(scores));
    }
    n.inputs.push_back(*mask);
  }
  return add_node(std::move(n));
}

void Graph::set_outputs(std::vector<NodeId> outputs) {
  if (outputs.empty()) throw ArgumentError("graph: set_outputs needs at least one node");
  for (NodeId id : outputs) node(id);
  outputs_ = std::move(outputs);
}

std::string Graph::describe() const {
  std::ostringstream out;
  for (size_t i = 0; i < nodes_.size(); ++i) {
    const Node& n = nodes_[i];
    out << '%' << i << " = " << node_kind_name(n.kind);
    for (NodeId input : n.inputs) out << " %" << input;
    out << " : " << dtype_name(n.dtype) << dims_text(n.shape);
    if (n.kind == NodeKind::Placeholder) out << " name=" << n.name;
    if (n.kind == NodeKind::Constant || n.kind == NodeKind::Scale ||
        n.kind == NodeKind::ScaledDotProductAttention) {
      char value[32];
      std::snprintf(value, sizeof value, "%.17g", n.value);
      out << " value=" << value;
    }
    if (n.kind == NodeKind::CausalMask) out << " offset=" << n.offset;
    if (!n.axes.empty()) out << " axes=" << dims_text(n.axes);
    if (n.transpose_a) out << " transpose_a";
    if (n.transpose_b) out << " transpose_b";
    out << '\n';
  }
  out << "outputs";
  for (NodeId id : outputs_) out << " %" << id;
  out << '\n';
  return out.str();
}

}  // namespace metallic::graph
