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

/// Exact-type check against the Tensor class (isinstance costs a type-table search per call).
bool is_tensor(const py::handle& v) {
  static PyTypeObject* type = reinterpret_cast<PyTypeObject*>(py::type::of<Tensor>().ptr());
  return Py_TYPE(v.ptr()) == type;
}

OpValue to_value(const py::handle& v, const OpParam& p) {
  if (is_tensor(v)) return v.cast<Tensor>();
  if (v.is_none()) return std::monostate{};
  if (py::isinstance<py::bool_>(v)) return v.cast<bool>();
  if (py::isinstance<py::int_>(v)) {
    if (p.type == "float") return static_cast<double>(v.cast<int64_t>());
    return v.cast<int64_t>();
  }
  if (py::isinstance<py::float_>(v)) return v.cast<double>();
  if (py::isinstance<py::str>(v)) return v.cast<std::string>();
  if (py::isinstance<Tensor>(v)) return v.cast<Tensor>();  // a subclass
  if (py::isinstance<py::sequence>(v)) return v.cast<std::vector<int64_t>>();
  // numpy scalars and other numbers
  if (py::hasattr(v, "__index__")) {
    return py::reinterpret_borrow<py::object>(v).attr("__index__")().cast<int64_t>();
  }
  if (py::hasattr(v, "__float__")) {
    return py::reinterpret_borrow<py::object>(v).attr("__float__")().cast<double>();
  }
  throw ArgumentError("argument '" + p.name + "' has unsupported type " +
                      std::string(py::str(py::type::handle_of(v))));
}

OpValue default_value(const OpParam& p) {
  const std::string& d = *p.default_value;
  return to_value(py::module_::import("ast").attr("literal_eval")(d), p);
}

/// Binds Python arguments to the op's parameters, in parameter order.
std::vector<OpValue> bind_arguments(const OpInfo& op, const py::tuple& args,
                                    const py::dict& kwargs) {
  const size_t n = op.params.size();
  if (args.size() > n) {
    throw ArgumentError(op.python_name + "() takes " + std::to_string(n) + " arguments but " +
                        std::to_string(args.size()) + " were given");
  }
  std::vector<OpValue> values(n);
  size_t used_kwargs = 0;
  for (size_t i = 0; i < n; ++i) {
    const OpParam& p = op.params[i];
    const bool in_kwargs = !kwargs.empty() && kwargs.contains(p.name);
    if (i < args.size()) {
      if (in_kwargs) {
        throw ArgumentError(op.python_name + "() got multiple values for '" + p.name + "'");
      }
      values[i] = to_value(args[i], p);
    } else if (in_kwargs) {
      values[i] = to_value(kwargs[py::str(p.name)], p);
      used_kwargs++;
    } else if (p.default_value) {
      values[i] = default_value(p);
    } else {
      throw ArgumentError(op.python_name + "() missing required argument '" + p.name + "'");
    }
  }
  if (used_kwargs != kwargs.size()) {
    for (auto item : kwargs) {
      const auto key = item.first.cast<std::string>();
      bool known = false;
      for (const auto& p : op.params) known = known || p.name == key;
      if (!known) {
        throw ArgumentError(op.python_name + "() got an unexpected argument '" + key + "'");
      }
    }
  }
  return values;
}

/// The context of the first Tensor argument.
Context& context_of(const OpInfo& op, const std::vector<OpValue>& values) {
  for (const auto& v : values) {
    if (const Tensor* t = std::get_if<Tensor>(&v)) return t->context();
  }
  throw ArgumentError(op.python_name + "() needs at least one Tensor argument to find its context");
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
          d["index"] = out.size();
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
      [](const py::object& ctx, size_t index, const py::tuple& args, const py::dict& kwargs) {
        const auto& ops = registered_ops();
        if (index >= ops.size()) throw ArgumentError("no op with index " + std::to_string(index));
        const OpInfo& op = ops[index];
        std::vector<OpValue> values = bind_arguments(op, args, kwargs);
        Context& c = ctx.is_none() ? context_of(op, values) : ctx.cast<Context&>();
        return op.invoke(c, OpArgs(op.params, std::move(values)));
      },
      py::arg("ctx"), py::arg("index"), py::arg("args"), py::arg("kwargs"),
      "Runs op number `index` of op_infos() on `ctx` (None: the first Tensor argument's).");
}

}  // namespace metallic::python
