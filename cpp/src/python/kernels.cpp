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
#include "python/convert.hpp"

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

/// The bits of function constant `index`'s value; ArgumentError if `value` is not a number of the
/// constant's type (or out of its range).
uint64_t constant_bits(uint32_t index, const std::string& type_name, const py::handle& value,
                       FunctionConstant::Type type) {
  const std::string what = "function constant " + std::to_string(index) + " (" + type_name + ")";
  uint64_t bits = 0;
  switch (type) {
    case FunctionConstant::Type::Bool:
      if (!py::isinstance<py::bool_>(value) &&
          !py::isinstance(value, py::module_::import("numpy").attr("bool_"))) {
        throw ArgumentError(what + " takes True or False, got " + std::string(py::repr(value)));
      }
      bits = value.cast<bool>() ? 1 : 0;
      break;
    case FunctionConstant::Type::Int:
    case FunctionConstant::Type::Short: {
      const int64_t limit = type == FunctionConstant::Type::Int ? INT32_MAX : INT16_MAX;
      const int64_t v = int_arg(value, what, -limit - 1, limit);
      std::memcpy(&bits, &v, sizeof v);
      break;
    }
    case FunctionConstant::Type::UInt:
    case FunctionConstant::Type::UShort:
      bits = static_cast<uint64_t>(
          int_arg(value, what, 0, type == FunctionConstant::Type::UInt ? UINT32_MAX : UINT16_MAX));
      break;
    case FunctionConstant::Type::Float:
    case FunctionConstant::Type::Half: {
      if (PyFloat_Check(value.ptr()) == 0 && PyNumber_Check(value.ptr()) == 0) {
        throw ArgumentError(what + " takes a number, got " + std::string(py::repr(value)));
      }
      const double d = py::float_(py::reinterpret_borrow<py::object>(value)).cast<double>();
      if (type == FunctionConstant::Type::Float) {
        const float f = static_cast<float>(d);
        std::memcpy(&bits, &f, sizeof f);
      } else {
        // numpy does the float -> binary16 rounding.
        py::module_ np = py::module_::import("numpy");
        bits = np.attr("float16")(d).attr("view")(np.attr("uint16")).cast<uint16_t>();
      }
      break;
    }
  }
  return bits;
}

/// HostSourceCompiler for the host device: the translator and compiler in metallic._msl.
std::string compile_for_host(const LibrarySource& source, bool host_checks) {
  py::gil_scoped_acquire gil;
  py::object path =
      py::module_::import("metallic.kernels")
          .attr("_compile_for_host")(source.source, source.name, source.include_dirs, host_checks);
  return path.cast<std::string>();
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

  set_host_source_compiler(&compile_for_host);
  m.def(
      "compile_library",
      [](Context& ctx, const std::string& source, const std::string& name,
         const std::vector<std::string>& include_dirs,
         bool recompile) { return ctx.compile_library(source, name, include_dirs, recompile); },
      py::arg("ctx"), py::arg("source"), py::arg("name"), py::arg("include_dirs"),
      py::arg("recompile") = false,
      "Compiles MSL source on ctx's device now (cached per context; recompile=True compiles "
      "again, for changed headers); raises KernelCompileError.");

  m.def(
      "make_pipeline",
      [](Context& ctx, const LibraryPtr& library, const std::string& function,
         const std::vector<std::tuple<uint32_t, std::string, py::object>>& constants) {
        FunctionConstants fc;
        for (const auto& [index, type_name, value] : constants) {
          const auto type = constant_type(type_name);
          fc.push_back({index, type, constant_bits(index, type_name, value, type)});
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
        std::vector<uint32_t> unbound;
        for (uint32_t i = 0; i < args.size(); ++i) {
          if (args[i].is_none()) unbound.push_back(i);
        }
        e.check_arguments(std::move(unbound)).pipeline(pipeline);
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
