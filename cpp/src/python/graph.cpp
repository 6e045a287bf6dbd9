// Graph kernels from Python: mt.graph_kernels(), ctx.graph_cache_stats(), ctx.mask_arena_stats(),
// ctx.set_graph_cache_capacity(); and the IR itself, mt.Graph with ctx.run_graph, for trying a
// graph (and testing every node kind) without writing a GraphKernel.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "metallic/context.hpp"
#include "metallic/error.hpp"
#include "metallic/graph_kernel.hpp"
#include "metallic/kernel.hpp"
#include "python/bindings.hpp"
#include "python/convert.hpp"

namespace py = pybind11;

namespace metallic::python {

namespace {

py::dict stats_dict(const CacheStats& s) {
  py::dict d;
  d["hits"] = s.hits;
  d["misses"] = s.misses;
  d["evictions"] = s.evictions;
  d["entries"] = s.entries;
  d["capacity"] = s.capacity;
  return d;
}

py::list bindings_list(const std::vector<GraphKernelBinding>& bindings) {
  py::list out;
  for (const auto& b : bindings) {
    py::dict d;
    d["name"] = b.name;
    d["axes"] = b.axes;
    d["optional"] = b.optional;
    d["doc"] = b.doc;
    out.append(d);
  }
  return out;
}

}  // namespace

void bind_graph(py::module_& m) {
  using graph::Graph;
  using graph::NodeId;
  using Dims = std::vector<int64_t>;
  py::class_<Graph>(m, "Graph",
                    "A graph of the IR (docs/graph-kernels.md): methods add nodes and return their "
                    "ids; ctx.run_graph executes it.")
      .def(py::init<>())
      .def(
          "placeholder",
          [](Graph& g, const std::string& name, const py::object& dtype, Dims shape) {
            return g.placeholder(name, dtype_arg(dtype), std::move(shape));
          },
          py::arg("name"), py::arg("dtype"), py::arg("shape"),
          "An input, bound in creation order by run_graph.")
      .def(
          "constant",
          [](Graph& g, double value, const py::object& dtype, Dims shape) {
            return g.constant(value, dtype_arg(dtype), std::move(shape));
          },
          py::arg("value"), py::arg("dtype"), py::arg("shape") = Dims{}, "`value` of `shape`.")
      .def("matmul", &Graph::matmul, py::arg("a"), py::arg("b"), py::arg("transpose_a") = false,
           py::arg("transpose_b") = false, "a @ b over the last two axes, batch axes broadcast.")
      .def("add", &Graph::add, py::arg("a"), py::arg("b"), "a + b (numpy broadcasting).")
      .def("sub", &Graph::sub, py::arg("a"), py::arg("b"), "a - b (numpy broadcasting).")
      .def("mul", &Graph::mul, py::arg("a"), py::arg("b"), "a * b (numpy broadcasting).")
      .def("div", &Graph::div, py::arg("a"), py::arg("b"), "a / b (numpy broadcasting).")
      .def("maximum", &Graph::maximum, py::arg("a"), py::arg("b"), "max(a, b) elementwise.")
      .def("scale", &Graph::scale, py::arg("x"), py::arg("factor"), "x * factor.")
      .def("exp", &Graph::exp, py::arg("x"), "e^x.")
      .def("causal_mask", &Graph::causal_mask, py::arg("x"), py::arg("offset"),
           "x with -inf where key column > query row + offset (last two axes).")
      .def("additive_mask", &Graph::additive_mask, py::arg("x"), py::arg("mask"),
           "x + mask, the mask broadcast to x and cast to its dtype.")
      .def("softmax", &Graph::softmax, py::arg("x"), py::arg("axis"),
           "Softmax along `axis` (rows without a finite value give 0).")
      .def("reduce_max", &Graph::reduce_max, py::arg("x"), py::arg("axes"),
           "Maximum over `axes`, each kept with size 1.")
      .def("reduce_sum", &Graph::reduce_sum, py::arg("x"), py::arg("axes"),
           "Sum over `axes`, each kept with size 1.")
      .def(
          "cast",
          [](Graph& g, NodeId x, const py::object& dtype) { return g.cast(x, dtype_arg(dtype)); },
          py::arg("x"), py::arg("dtype"), "x converted to `dtype` (f32, f16, bf16).")
      .def("transpose", &Graph::transpose, py::arg("x"), py::arg("permutation"),
           "x with its axes permuted.")
      .def("reshape", &Graph::reshape, py::arg("x"), py::arg("shape"),
           "x with a new shape of the same element count (row-major).")
      .def("scaled_dot_product_attention", &Graph::scaled_dot_product_attention, py::arg("q"),
           py::arg("k"), py::arg("v"), py::arg("mask"), py::arg("scale"),
           "The fused node: softmax(q kᵀ · scale + mask) v with GQA.")
      .def("set_outputs", &Graph::set_outputs, py::arg("outputs"),
           "The results, returned in this order by run_graph.")
      .def(
          "node_shape", [](const Graph& g, NodeId id) { return g.node(id).shape; }, py::arg("node"),
          "The inferred shape of a node.")
      .def(
          "node_dtype",
          [](const Graph& g, NodeId id) { return std::string(dtype_name(g.node(id).dtype)); },
          py::arg("node"), "The inferred dtype of a node.")
      .def("describe", &Graph::describe, "One canonical line per node.");

  m.def(
      "graph_kernels",
      [] {
        py::list out;
        for (const GraphKernel* k : GraphKernel::all()) {
          const auto& s = k->signature();
          py::dict d;
          d["name"] = k->name();
          d["inputs"] = bindings_list(s.inputs);
          d["outputs"] = bindings_list(s.outputs);
          py::list policies;
          for (const auto& p : s.policies) policies.append(p.describe());
          d["policies"] = policies;
          d["notes"] = s.notes;
          out.append(d);
        }
        return out;
      },
      "The registered graph kernels: name, inputs and outputs (name, axes, optional, doc), "
      "dtype policies and notes.");

  auto context_class = py::reinterpret_borrow<py::class_<Context, std::shared_ptr<Context>>>(
      py::type::of<Context>());
  context_class
      .def(
          "graph_cache_stats",
          [](Context& c) { return stats_dict(c.resources().executable_stats()); },
          "The GraphExecutableCache's counters: hits, misses, evictions, entries, capacity.")
      .def(
          "mask_arena_stats", [](Context& c) { return stats_dict(c.resources().mask_stats()); },
          "The MaskArena's counters: hits, misses, evictions, entries, capacity.")
      .def(
          "set_graph_cache_capacity",
          [](Context& c, int64_t capacity) {
            if (capacity < 1) {
              throw ArgumentError(
                  "set_graph_cache_capacity: the capacity must be at least 1, got " +
                  std::to_string(capacity));
            }
            c.resources().set_executable_capacity(static_cast<size_t>(capacity));
          },
          py::arg("capacity"),
          "Keeps at most `capacity` compiled graphs (least recently used evicted first).")
      .def(
          "run_graph",
          [](Context& c, const Graph& g, const std::vector<Tensor>& inputs) {
            // Compiled for this call alone: graph kernels go through the ResourceCache instead.
            GraphExecutablePtr executable = c.device().compile_graph(g);
            std::vector<Tensor> outputs;
            for (NodeId id : g.outputs()) {
              const graph::Node& n = g.node(id);
              outputs.push_back(c.tensor(n.dtype, Shape(n.shape.begin(), n.shape.end())));
            }
            ComputeKernelEncoder e(c, "graph");
            e.graph(executable, inputs, outputs);
            return outputs;
          },
          py::arg("graph"), py::arg("inputs"),
          "Executes `graph` on contiguous `inputs` (one per placeholder, in creation order) and "
          "returns its outputs (encoded lazily, like an op).");
}

}  // namespace metallic::python
