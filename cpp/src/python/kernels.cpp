// Kernel libraries and pipelines for kernels compiled at run time (metallic.compile_library),
// and the raw dispatch they encode with.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <cstring>
#include <set>

#include "metallic/context.hpp"
#include "metallic/error.hpp"
#include "python/bindings.hpp"

namespace py = pybind11;

namespace metallic::python {

namespace {

/// Dispatch labels must outlive the command buffer; kernel names are few, so keep them all.
const char* intern(const std::string& s) {
  static std::set<std::string> names;
  return names.insert(s).first->c_str();
}

FunctionConstant::Type constant_type(const std::string& name) {
  static const std::pair<const char*, FunctionConstant::Type> kTypes[] = {
      {"bool", FunctionConstant::Type::Bool},     {"int", FunctionConstant::Type::Int},
      {"uint", FunctionConstant::Type::UInt},     {"short", FunctionConstant::Type::Short},
      {"ushort", FunctionConstant::Type::UShort}, {"float", FunctionConstant::Type::Float},
      {"half", FunctionConstant::Type::Half},
  };
  for (const auto& [n, t] : kTypes) {
    if (name == n) return t;
  }
  throw ArgumentError("function constants of type '" + name +
                      "' are not supported; use bool, int, uint, short, ushort, float or half");
}

uint64_t constant_bits(const py::handle& value, FunctionConstant::Type type) {
  uint64_t bits = 0;
  switch (type) {
    case FunctionConstant::Type::Bool:
      bits = value.cast<bool>() ? 1 : 0;
      break;
    case FunctionConstant::Type::Int:
    case FunctionConstant::Type::Short: {
      const int64_t v = value.cast<int64_t>();
      std::memcpy(&bits, &v, sizeof v);
      break;
    }
    case FunctionConstant::Type::UInt:
    case FunctionConstant::Type::UShort:
      bits = value.cast<uint64_t>();
      break;
    case FunctionConstant::Type::Float: {
      const float f = value.cast<float>();
      std::memcpy(&bits, &f, sizeof f);
      break;
    }
    case FunctionConstant::Type::Half: {
      // numpy does the float -> binary16 rounding.
      py::module_ np = py::module_::import("numpy");
      bits =
          np.attr("float16")(value.cast<double>()).attr("view")(np.attr("uint16")).cast<uint16_t>();
      break;
    }
  }
  return bits;
}

}  // namespace

void bind_kernels(py::module_& m) {
  py::class_<Library, LibraryPtr>(m, "Library", "A loaded kernel library.")
      .def_property_readonly("name", &Library::name)
      .def("function_names", &Library::function_names);

  py::class_<Pipeline, PipelinePtr>(m, "Pipeline",
                                    "A kernel function specialised by function constants.")
      .def_property_readonly("function_name", &Pipeline::function_name)
      .def_property_readonly("max_total_threads_per_threadgroup",
                             &Pipeline::max_total_threads_per_threadgroup)
      .def_property_readonly("thread_execution_width", &Pipeline::thread_execution_width)
      .def_property_readonly("static_threadgroup_memory_length",
                             &Pipeline::static_threadgroup_memory_length);

  m.def(
      "load_host_library",
      [](Context& ctx, const std::string& path, const std::string& name) {
        LibrarySource src;
        src.kind = LibrarySource::Kind::HostCompiled;
        src.name = name;
        src.path = path;
        return ctx.device().load_library(src);
      },
      py::arg("ctx"), py::arg("path"), py::arg("name"),
      "Loads a host kernel library compiled at run time (a shared object).");

  m.def(
      "compile_source_library",
      [](Context& ctx, const std::string& source, const std::string& name,
         const std::vector<std::string>& include_dirs) {
        return ctx.compile_library(source, name, include_dirs);
      },
      py::arg("ctx"), py::arg("source"), py::arg("name"), py::arg("include_dirs"),
      "Compiles MSL source on the device (Metal: newLibraryWithSource).");

  m.def(
      "make_pipeline",
      [](Context& ctx, const LibraryPtr& library, const std::string& function,
         const std::vector<std::tuple<uint32_t, std::string, py::object>>& constants) {
        FunctionConstants fc;
        for (const auto& [index, type_name, value] : constants) {
          const auto type = constant_type(type_name);
          fc.push_back({index, type, constant_bits(value, type)});
        }
        std::sort(fc.begin(), fc.end());
        return ctx.pipeline(library, function, fc);
      },
      py::arg("ctx"), py::arg("library"), py::arg("function"), py::arg("constants"),
      "A pipeline for `function` with constants [(index, msl type, value)], cached.");

  m.def(
      "dispatch",
      [](Context& ctx, const PipelinePtr& pipeline, const py::list& args, Size3 grid,
         Size3 threadgroup, bool threads_mode, const std::map<uint32_t, size_t>& tg_memory) {
        ComputeKernelEncoder e(ctx, intern(pipeline->function_name()));
        e.pipeline(pipeline);
        for (uint32_t i = 0; i < args.size(); ++i) {
          py::handle a = args[i];
          if (a.is_none()) continue;
          if (py::isinstance<Tensor>(a)) {
            e.buffer(i, a.cast<const Tensor&>());
          } else if (py::isinstance<py::bytes>(a)) {
            const std::string b = a.cast<std::string>();
            e.bytes(i, b.data(), b.size());
          } else {
            throw ArgumentError("argument " + std::to_string(i) +
                                " must be a Tensor or bytes (the Python layer converts numpy "
                                "scalars and arrays)");
          }
        }
        for (const auto& [index, length] : tg_memory) e.threadgroup_memory(index, length);
        if (threads_mode) {
          e.dispatch_threads(grid, threadgroup);
        } else {
          e.dispatch_custom(grid, threadgroup);
        }
      },
      py::arg("ctx"), py::arg("pipeline"), py::arg("args"), py::arg("grid"), py::arg("threadgroup"),
      py::arg("threads_mode"), py::arg("threadgroup_memory"),
      "Encodes one dispatch lazily; args[i] binds [[buffer(i)]] (Tensor, bytes, or None: "
      "unbound).");
}

}  // namespace metallic::python
