// GraphKernel: a kernel described as a graph (graph.hpp) instead of MSL source. Each kernel has a
// published signature (its bindings with their axis semantics, which are optional, notes), a
// dtype policy (storage vs accumulator precision) and a builder that makes the graph for one set
// of input shapes and attributes. Graph kernels register from their op's file into a
// process-wide list (`metallic info --graph` prints it); ops reach them through the `mpsgraph`
// backend of the KernelBackendRegistry. See docs/graph-kernels.md.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "metallic/graph.hpp"
#include "metallic/tensor.hpp"

namespace metallic {

class ComputeKernelEncoder;
class Context;

/// The precisions of a graph kernel: inputs and outputs are stored in `storage`; products,
/// sums and softmax run in `accumulator` (f16 storage with f32 accumulation casts the inputs
/// up and the results down inside the graph).
struct GraphKernelDtypePolicy {
  DType storage = DType::F32;
  DType accumulator = DType::F32;
  /// Orders policies in cache keys.
  bool operator<(const GraphKernelDtypePolicy& o) const {
    return std::pair(storage, accumulator) < std::pair(o.storage, o.accumulator);
  }
  /// "f16 storage, f32 accumulation".
  std::string describe() const;
};

/// One input or output of a graph kernel as its signature publishes it.
struct GraphKernelBinding {
  std::string name;       // "q"
  std::string axes;       // "(B, H, Sq, D)"
  bool optional = false;  // an input the call may leave out
  std::string doc;
};

/// What `metallic info --graph` prints of a kernel.
struct GraphKernelSignature {
  std::vector<GraphKernelBinding> inputs;
  std::vector<GraphKernelBinding> outputs;
  std::vector<GraphKernelDtypePolicy> policies;  // the policies the kernel is built for
  std::vector<std::string> notes;
};

/// An input of one call: absent (an optional input left out) or its dtype and shape.
struct GraphInputDesc {
  bool present = false;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  /// Orders inputs in cache keys.
  bool operator<(const GraphInputDesc& o) const {
    return std::tie(present, dtype, shape) < std::tie(o.present, o.dtype, o.shape);
  }
};

class GraphKernel;

/// What one compiled graph is for: the GraphExecutableCache's key.
struct GraphKernelKey {
  const GraphKernel* kernel = nullptr;
  std::vector<GraphInputDesc> inputs;  // one per signature input, in its order
  GraphKernelDtypePolicy policy;
  std::map<std::string, double> attributes;  // "scale", "causal", "fused_attention", ...
  /// Orders keys in the GraphExecutableCache.
  bool operator<(const GraphKernelKey& o) const {
    return std::tie(kernel, inputs, policy, attributes) <
           std::tie(o.kernel, o.inputs, o.policy, o.attributes);
  }
  /// The attribute `name`; throws ArgumentError if the call did not set it.
  double attribute(const std::string& name) const;
};

class GraphKernel {
 public:
  /// Builds the graph of one key: placeholders for the present inputs, in signature order.
  using Builder = std::function<graph::Graph(const GraphKernelKey&)>;

  /// Registers a kernel into the process-wide list (from a static initialiser in its op's
  /// file) and returns it; the reference stays valid for the life of the process.
  static const GraphKernel& register_kernel(std::string name, GraphKernelSignature signature,
                                            Builder build);
  /// Every registered kernel, sorted by name.
  static std::vector<const GraphKernel*> all();

  const std::string& name() const { return name_; }
  const GraphKernelSignature& signature() const { return signature_; }
  /// The graph for `key` (its outputs set).
  graph::Graph build(const GraphKernelKey& key) const { return build_(key); }

  /// Use register_kernel: a kernel lives in the process-wide list.
  GraphKernel(std::string name, GraphKernelSignature signature, Builder build)
      : name_(std::move(name)), signature_(std::move(signature)), build_(std::move(build)) {}

 private:
  std::string name_;
  GraphKernelSignature signature_;
  Builder build_;
};

/// One call of a graph kernel, ready to encode: the compiled executable and its tensors.
struct GraphKernelCall {
  GraphExecutablePtr executable;
  std::vector<Tensor> inputs;   // the present inputs, contiguous, in placeholder order
  std::vector<Tensor> outputs;  // allocated from the graph's output nodes
  /// Encodes the execution (ComputeKernelEncoder::graph).
  void encode(ComputeKernelEncoder& e) const;
};

/// Prepares a call of `kernel`: copies strided inputs to contiguous tensors (graph inputs are
/// contiguous), gets the executable from the context's GraphExecutableCache (building and
/// compiling it on a miss) and allocates the outputs. `inputs` has one entry per signature
/// input; `attributes` are part of the cache key.
GraphKernelCall prepare_graph_kernel_call(Context& ctx, const GraphKernel& kernel,
                                          const std::vector<std::optional<Tensor>>& inputs,
                                          const GraphKernelDtypePolicy& policy,
                                          std::map<std::string, double> attributes);

/// The policy graph kernels use for inputs of `storage` dtype: f32 accumulation.
GraphKernelDtypePolicy default_graph_policy(DType storage);

/// For builders: the placeholder of `key`'s input `index` (storage dtype), cast to the
/// accumulator dtype.
graph::NodeId accumulator_input(graph::Graph& g, const GraphKernelKey& key, size_t index,
                                const std::string& name);
/// For builders: `node` (accumulator dtype) cast back to the storage dtype, set as the output.
void set_storage_output(graph::Graph& g, const GraphKernelKey& key, graph::NodeId node);

}  // namespace metallic
