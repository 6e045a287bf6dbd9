// Graph kernels from Python: mt.graph_kernels(), ctx.graph_cache_stats(), ctx.mask_arena_stats(),
// ctx.set_graph_cache_capacity().
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "metallic/context.hpp"
#include "metallic/error.hpp"
#include "metallic/graph_kernel.hpp"
#include "python/bindings.hpp"

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
          "Keeps at most `capacity` compiled graphs (least recently used evicted first).");
}

}  // namespace metallic::python
