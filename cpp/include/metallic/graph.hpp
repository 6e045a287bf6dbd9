// The graph IR behind graph-backed kernels: a small static-shape dataflow graph that the Metal
// device lowers to an MPSGraph (compiled once to an MPSGraphExecutable per cache key) and the host
// device runs with a reference executor. A graph is built for one set of shapes (shapes are part
// of the cache key), so every node has a known shape and dtype: the builder infers them and
// rejects mismatched operands with ShapeError / DTypeError. See docs/graph-kernels.md.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "metallic/dtype.hpp"

namespace metallic::graph {

/// What a node computes. Binary elementwise nodes broadcast their operands as numpy does and
/// require equal dtypes (insert a Cast); every floating node works in its own dtype, so a graph
/// that wants f32 accumulation over f16 storage casts explicitly (GraphKernelDtypePolicy).
enum class NodeKind : uint8_t {
  Placeholder,  // an input bound to a buffer at execution; inputs are bound in creation order
  Constant,     // `value` broadcast to `shape`
  MatMul,       // a @ b over the last two axes, leading (batch) axes broadcast; transpose_a/_b
  Add,
  Sub,
  Mul,
  Div,
  Maximum,
  Scale,         // x * value
  Exp,           // e^x
  CausalMask,    // x with -inf where (key column) > (query row) + offset, over the last two axes
  AdditiveMask,  // x + mask, mask broadcast to x and cast to x's dtype
  Softmax,       // along axes[0], max-subtracted
  ReduceMax,     // over `axes`, each kept with size 1
  ReduceSum,     // over `axes`, each kept with size 1
  Cast,          // to the node's dtype
  Transpose,     // by the permutation `axes`
  Reshape,       // to the node's shape (same element count, row-major order)
  // MPSGraph's fused scaled-dot-product attention: inputs q (B,H,Sq,D), k and v (B,Hkv,Skv,D)
  // with H a multiple of Hkv (grouped-query attention), optional additive mask broadcastable to
  // (B,H,Sq,Skv); `value` is the scale. Lowered to the fused call only where the OS has it
  // (Device::graph_has_fused_attention); graph kernels build the unfused form otherwise.
  ScaledDotProductAttention,
};

/// The name a node kind prints as ("matmul", "causal_mask", ...).
const char* node_kind_name(NodeKind kind);

using NodeId = uint32_t;

/// One node: its kind, operands (earlier nodes), result shape and dtype, and attributes.
struct Node {
  NodeKind kind = NodeKind::Placeholder;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  std::vector<NodeId> inputs;
  double value = 0.0;         // Constant: the value; Scale: the factor; SDPA: the scale
  int64_t offset = 0;         // CausalMask: key positions that precede the first query
  std::vector<int64_t> axes;  // Softmax, ReduceMax, ReduceSum: axes; Transpose: permutation
  bool transpose_a = false;   // MatMul
  bool transpose_b = false;   // MatMul
  std::string name;           // Placeholder: the binding's name
};

/// A graph under construction and, once its outputs are set, the unit a device compiles.
/// Negative axes count from the end, as in numpy; they are stored normalised.
class Graph {
 public:
  NodeId placeholder(const std::string& name, DType dtype, std::vector<int64_t> shape);
  NodeId constant(double value, DType dtype, std::vector<int64_t> shape = {});
  NodeId matmul(NodeId a, NodeId b, bool transpose_a = false, bool transpose_b = false);
  NodeId add(NodeId a, NodeId b);
  NodeId sub(NodeId a, NodeId b);
  NodeId mul(NodeId a, NodeId b);
  NodeId div(NodeId a, NodeId b);
  NodeId maximum(NodeId a, NodeId b);
  NodeId scale(NodeId x, double factor);
  NodeId exp(NodeId x);
  NodeId causal_mask(NodeId x, int64_t offset);
  NodeId additive_mask(NodeId x, NodeId mask);
  NodeId softmax(NodeId x, int64_t axis);
  NodeId reduce_max(NodeId x, std::vector<int64_t> axes);
  NodeId reduce_sum(NodeId x, std::vector<int64_t> axes);
  NodeId cast(NodeId x, DType dtype);
  NodeId transpose(NodeId x, std::vector<int64_t> permutation);
  NodeId reshape(NodeId x, std::vector<int64_t> shape);
  NodeId scaled_dot_product_attention(NodeId q, NodeId k, NodeId v, std::optional<NodeId> mask,
                                      double scale);

  /// The results, bound in this order at execution.
  void set_outputs(std::vector<NodeId> outputs);

  const std::vector<Node>& nodes() const { return nodes_; }
  const Node& node(NodeId id) const;
  /// Placeholder node ids in creation order (the order of GraphCommand::inputs).
  const std::vector<NodeId>& placeholders() const { return placeholders_; }
  const std::vector<NodeId>& outputs() const { return outputs_; }
  /// A canonical one-line-per-node text of the graph: equal graphs print equally.
  std::string describe() const;

 private:
  NodeId add_node(Node node);

  std::vector<Node> nodes_;
  std::vector<NodeId> placeholders_;
  std::vector<NodeId> outputs_;
};

}  // namespace metallic::graph
