// GraphKernel: the process-wide list of graph kernels and the preparation of one call.
#include "metallic/graph_kernel.hpp"

#include <algorithm>
#include <deque>

#include "metallic/error.hpp"
#include "metallic/kernel.hpp"
#include "metallic/ops/copy.hpp"
#include "metallic/resource_cache.hpp"

namespace metallic {

namespace {

std::deque<GraphKernel>& kernels() {
  static std::deque<GraphKernel> list;  // a deque: registered references stay valid
  return list;
}

}  // namespace

std::string GraphKernelDtypePolicy::describe() const {
  return std::string(dtype_name(storage)) + " storage, " + dtype_name(accumulator) +
         " accumulation";
}

double GraphKernelKey::attribute(const std::string& name) const {
  auto it = attributes.find(name);
  if (it == attributes.end()) {
    throw ArgumentError("graph kernel " + kernel->name() + ": attribute '" + name +
                        "' was not set by the call");
  }
  return it->second;
}

const GraphKernel& GraphKernel::register_kernel(std::string name, GraphKernelSignature signature,
                                                Builder build) {
  return kernels().emplace_back(std::move(name), std::move(signature), std::move(build));
}

std::vector<const GraphKernel*> GraphKernel::all() {
  std::vector<const GraphKernel*> out;
  for (const auto& k : kernels()) out.push_back(&k);
  std::sort(out.begin(), out.end(),
            [](const GraphKernel* a, const GraphKernel* b) { return a->name() < b->name(); });
  return out;
}

GraphKernelDtypePolicy default_graph_policy(DType storage) {
  return {storage, DType::F32};
}

graph::NodeId accumulator_input(graph::Graph& g, const GraphKernelKey& key, size_t index,
                                const std::string& name) {
  const graph::NodeId x = g.placeholder(name, key.policy.storage, key.inputs[index].shape);
  return key.policy.storage == key.policy.accumulator ? x : g.cast(x, key.policy.accumulator);
}

void set_storage_output(graph::Graph& g, const GraphKernelKey& key, graph::NodeId node) {
  g.set_outputs(
      {key.policy.storage == key.policy.accumulator ? node : g.cast(node, key.policy.storage)});
}

GraphKernelCall prepare_graph_kernel_call(Context& ctx, const GraphKernel& kernel,
                                          const std::vector<std::optional<Tensor>>& inputs,
                                          const GraphKernelDtypePolicy& policy,
                                          std::map<std::string, double> attributes) {
  const auto& bindings = kernel.signature().inputs;
  if (inputs.size() != bindings.size()) {
    throw ArgumentError("graph kernel " + kernel.name() + " takes " +
                        std::to_string(bindings.size()) + " inputs, got " +
                        std::to_string(inputs.size()));
  }
  const auto& policies = kernel.signature().policies;
  if (std::find_if(policies.begin(), policies.end(), [&](const GraphKernelDtypePolicy& p) {
        return p.storage == policy.storage && p.accumulator == policy.accumulator;
      }) == policies.end()) {
    std::string valid;
    for (const auto& p : policies) valid += (valid.empty() ? "" : "; ") + p.describe();
    throw DTypeError("graph kernel " + kernel.name() + " is built for " + valid + ", not " +
                     policy.describe() + "; use another backend for " + dtype_name(policy.storage) +
                     " (ctx.set_backend(op, 'auto'))");
  }
  GraphKernelKey key;
  key.kernel = &kernel;
  key.policy = policy;
  key.attributes = std::move(attributes);
  key.attributes["fused_attention"] = ctx.device().graph_has_fused_attention() ? 1 : 0;
  GraphKernelCall call;
  for (size_t i = 0; i < inputs.size(); ++i) {
    GraphInputDesc desc;
    if (inputs[i]) {
      if (!inputs[i]->defined()) {
        throw ArgumentError("graph kernel " + kernel.name() + ": input " + bindings[i].name +
                            " is undefined");
      }
      // The stride requirement of graph inputs: contiguous row-major data.
      const Tensor t =
          inputs[i]->is_contiguous() ? *inputs[i] : ctx.call<ContiguousOp>({*inputs[i]});
      desc.present = true;
      desc.dtype = t.dtype();
      desc.shape.assign(t.shape().begin(), t.shape().end());
      call.inputs.push_back(t);
    } else if (!bindings[i].optional) {
      throw ArgumentError("graph kernel " + kernel.name() + ": input " + bindings[i].name +
                          " is required");
    }
    key.inputs.push_back(std::move(desc));
  }
  call.executable = ctx.resources().get_or_create_mpsgraph_executable(ctx.device(), key);
  const graph::Graph& g = call.executable->graph();
  for (graph::NodeId id : g.outputs()) {
    const graph::Node& n = g.node(id);
    call.outputs.push_back(ctx.tensor(n.dtype, Shape(n.shape.begin(), n.shape.end())));
  }
  return call;
}

void GraphKernelCall::encode(ComputeKernelEncoder& e) const {
  e.graph(executable, inputs, outputs);
}

}  // namespace metallic
