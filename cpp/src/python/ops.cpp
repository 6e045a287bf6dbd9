// Every registered op, callable by name with Python arguments bound to its signature.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "metallic/error.hpp"
#include "metallic/kernel_registry.hpp"
#include "metallic/op_registry.hpp"
#include "python/bindings.hpp"

namespace py = pybind11;

namespace metallic::python {

namespace {

OpValue to_value(const py::handle& v, const OpParam& p) {
  if (v.is_none()) return std::monostate{};
  if (py::isinstance<Tensor>(v)) return v.cast<Tensor>();
  if (py::isinstance<py::bool_>(v)) return v.cast<bool>();
  if (py::isinstance<py::int_>(v)) {
    if (p.type == "float") return static_cast<double>(v.cast<int64_t>());
    return v.cast<int64_t>();
  }
  if (py::isinstance<py::float_>(v)) return v.cast<double>();
  if (py::isinstance<py::str>(v)) return v.cast<std::string>();
  if (py::isinstance<py::sequence>(v)) return v.cast<std::vector<int64_t>>();
  // numpy scalars and other numbers
  if (py::hasattr(v, "__index__"))
    return py::reinterpret_borrow<py::object>(v).attr("__index__")().cast<int64_t>();
  if (py::hasattr(v, "__float__"))
    return py::reinterpret_borrow<py::object>(v).attr("__float__")().cast<double>();
  throw ArgumentError("argument '" + p.name + "' has unsupported type " +
                      std::string(py::str(v.get_type())));
}

OpValue default_value(const OpParam& p) {
  const std::string& d = *p.default_value;
  return to_value(py::module_::import("ast").attr("literal_eval")(d), p);
}

}  // namespace

void bind_ops(py::module_& m) {
  m.def(
      "op_infos",
      [] {
        py::list out;
        for (const auto& op : registered_ops()) {
          py::list params;
          for (const auto& p : op.params) {
            params.append(py::make_tuple(
                p.name, p.type, p.default_value ? py::cast(*p.default_value) : py::none()));
          }
          py::dict d;
          d["name"] = op.python_name;
          d["class_name"] = op.class_name;
          d["params"] = params;
          d["returns"] = op.returns;
          d["doc"] = op.doc;
          out.append(d);
        }
        return out;
      },
      "The registered ops: name, class name, parameters (name, type, default), doc.");

  m.def(
      "kernel_libraries",
      [] {
        py::dict out;
        for (size_t i = 0; i < kKernelLibraryCount; ++i) {
          out[kernel_library_name(static_cast<KernelLibrary>(i))] = py::list();
        }
        for (size_t i = 0; i < kKernelFunctionCount; ++i) {
          const auto& f = kernel_function_info(static_cast<KernelFunction>(i));
          out[kernel_library_name(f.library)].cast<py::list>().append(f.name);
        }
        return out;
      },
      "The built-in kernel libraries (metal/<family>) and their kernel functions.");

  m.def(
      "call_op",
      [](Context& ctx, const std::string& name, const py::tuple& args, const py::dict& kwargs) {
        const OpInfo& op = find_op(name);
        if (args.size() > op.params.size()) {
          throw ArgumentError(op.python_name + "() takes " + std::to_string(op.params.size()) +
                              " arguments but " + std::to_string(args.size()) + " were given");
        }
        std::map<std::string, OpValue> values;
        size_t used_kwargs = 0;
        for (size_t i = 0; i < op.params.size(); ++i) {
          const OpParam& p = op.params[i];
          if (i < args.size()) {
            if (kwargs.contains(p.name)) {
              throw ArgumentError(op.python_name + "() got multiple values for '" + p.name + "'");
            }
            values[p.name] = to_value(args[i], p);
          } else if (kwargs.contains(p.name)) {
            values[p.name] = to_value(kwargs[py::str(p.name)], p);
            used_kwargs++;
          } else if (p.default_value) {
            values[p.name] = default_value(p);
          } else {
            throw ArgumentError(op.python_name + "() missing required argument '" + p.name + "'");
          }
        }
        if (used_kwargs != kwargs.size()) {
          for (auto item : kwargs) {
            const auto key = item.first.cast<std::string>();
            bool known = false;
            for (const auto& p : op.params) known = known || p.name == key;
            if (!known)
              throw ArgumentError(op.python_name + "() got an unexpected argument '" + key + "'");
          }
        }
        return op.invoke(ctx, OpArgs(std::move(values)));
      },
      py::arg("ctx"), py::arg("name"), py::arg("args"), py::arg("kwargs"));
}

}  // namespace metallic::python
