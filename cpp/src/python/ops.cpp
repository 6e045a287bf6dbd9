// Every registered op, callable by name with Python arguments bound to its signature.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>

#include "metallic/error.hpp"
#include "metallic/kernel_registry.hpp"
#include "metallic/op_registry.hpp"
#include "python/bindings.hpp"
#include "python/convert.hpp"

namespace py = pybind11;

namespace metallic::python {

namespace {

/// Exact-type check against the Tensor class (isinstance costs a type-table search per call).
bool is_tensor(const py::handle& v) {
  static PyTypeObject* type = reinterpret_cast<PyTypeObject*>(py::type::of<Tensor>().ptr());
  return Py_TYPE(v.ptr()) == type || py::isinstance<Tensor>(v);
}

std::string type_name(const py::handle& v) {
  return py::str(py::type::handle_of(v).attr("__name__")).cast<std::string>();
}

[[noreturn]] void wrong_type(const OpInfo& op, const OpParam& p, const py::handle& v) {
  std::string hint;
  if ((p.kind == ParamKind::Tensor || p.kind == ParamKind::TensorOrScalar) &&
      py::hasattr(v, "__array__")) {
    hint = " (make one with ctx.tensor(array))";
  }
  throw ArgumentError(op.python_name + "(): argument '" + p.name + "' must be " + p.python_type() +
                      ", got " + type_name(v) + hint);
}

bool is_integer(const py::handle& v) {
  return !py::isinstance<py::bool_>(v) && !py::isinstance<py::float_>(v) &&
         (py::isinstance<py::int_>(v) || py::hasattr(v, "__index__"));
}

int64_t to_int(const OpInfo& op, const OpParam& p, const py::handle& v) {
  if (!is_integer(v)) wrong_type(op, p, v);
  try {
    return py::reinterpret_borrow<py::object>(v).attr("__index__")().cast<int64_t>();
  } catch (const py::cast_error&) {
    throw ArgumentError(op.python_name + "(): argument '" + p.name + "' is out of the range of " +
                        "a 64-bit integer");
  }
}

double to_float(const OpInfo& op, const OpParam& p, const py::handle& v) {
  if (py::isinstance<py::float_>(v)) return v.cast<double>();
  if (py::isinstance<py::str>(v) || py::isinstance<py::bool_>(v) || !py::hasattr(v, "__float__")) {
    wrong_type(op, p, v);
  }
  return py::reinterpret_borrow<py::object>(v).attr("__float__")().cast<double>();
}

/// Converts one Python argument to the parameter's kind, with an error naming the op and argument.
OpValue to_value(const OpInfo& op, const OpParam& p, const py::handle& v) {
  if (v.is_none()) {
    if (p.optional) return std::monostate{};
    wrong_type(op, p, v);
  }
  switch (p.kind) {
    case ParamKind::Tensor:
      if (!is_tensor(v)) wrong_type(op, p, v);
      return v.cast<Tensor>();
    case ParamKind::TensorList: {
      if (!py::isinstance<py::sequence>(v) || py::isinstance<py::str>(v)) wrong_type(op, p, v);
      std::vector<Tensor> out;
      for (auto item : py::reinterpret_borrow<py::sequence>(v)) {
        if (!is_tensor(item)) wrong_type(op, p, v);
        out.push_back(item.cast<Tensor>());
      }
      return out;
    }
    case ParamKind::TensorOrScalar:
      if (is_tensor(v)) return v.cast<Tensor>();
      if (py::hasattr(v, "__array__") && py::hasattr(v, "ndim") && v.attr("ndim").cast<int>() > 0) {
        wrong_type(op, p, v);  // an array (even of one element) is not a scalar
      }
      return to_float(op, p, v);
    case ParamKind::Bool:
      if (!py::isinstance<py::bool_>(v) && type_name(v) != "bool") wrong_type(op, p, v);
      return py::reinterpret_borrow<py::object>(v).cast<bool>();
    case ParamKind::Int:
      return to_int(op, p, v);
    case ParamKind::Float:
      return to_float(op, p, v);
    case ParamKind::Str: {
      if (!py::isinstance<py::str>(v)) wrong_type(op, p, v);
      std::string s = v.cast<std::string>();
      if (!p.choices.empty() &&
          std::find(p.choices.begin(), p.choices.end(), s) == p.choices.end()) {
        throw ArgumentError(op.python_name + "(): argument '" + p.name + "' must be one of " +
                            p.python_type() + ", got \"" + s + "\"");
      }
      return s;
    }
    case ParamKind::Ints: {
      if (is_integer(v)) return std::vector<int64_t>{to_int(op, p, v)};
      if (!py::isinstance<py::sequence>(v) || py::isinstance<py::str>(v)) wrong_type(op, p, v);
      std::vector<int64_t> out;
      for (auto item : py::reinterpret_borrow<py::sequence>(v)) out.push_back(to_int(op, p, item));
      return out;
    }
    case ParamKind::DType:
      return dtype_arg(py::reinterpret_borrow<py::object>(v));
  }
  wrong_type(op, p, v);
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
      values[i] = to_value(op, p, args[i]);
    } else if (in_kwargs) {
      values[i] = to_value(op, p, kwargs[py::str(p.name)]);
      used_kwargs++;
    } else if (!p.required) {
      values[i] = p.default_value;
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
    if (const auto* list = std::get_if<std::vector<Tensor>>(&v)) {
      if (!list->empty()) return list->front().context();
    }
  }
  throw ArgumentError(op.python_name + "() needs a Tensor argument, or ctx=, to find its context");
}

py::object to_python(OpResult&& result) {
  if (Tensor* t = std::get_if<Tensor>(&result)) return py::cast(std::move(*t));
  auto& list = std::get<std::vector<Tensor>>(result);
  py::tuple out(list.size());
  for (size_t i = 0; i < list.size(); ++i) out[i] = py::cast(std::move(list[i]));
  return out;
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
            params.append(py::make_tuple(p.name, p.python_type(),
                                         p.required ? py::none() : py::cast(p.default_literal),
                                         p.doc));
          }
          py::dict d;
          d["index"] = out.size();
          d["name"] = op.python_name;
          d["class_name"] = op.class_name;
          d["params"] = params;
          d["returns"] = op.returns_list ? "tuple[Tensor, ...]" : "Tensor";
          d["needs_context"] = op.needs_context();
          d["doc"] = op.doc;
          out.append(d);
        }
        return out;
      },
      "The registered ops: name, class name, parameters (name, annotation, default as Python "
      "source or None when required, doc), return annotation, doc.");

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

  auto call_op = [](const py::object& ctx, size_t index, const py::tuple& args,
                    const py::dict& kwargs) {
    const auto& ops = registered_ops();
    if (index >= ops.size()) throw ArgumentError("no op with index " + std::to_string(index));
    const OpInfo& op = ops[index];
    std::vector<OpValue> values = bind_arguments(op, args, kwargs);
    Context& c = ctx.is_none() ? context_of(op, values) : ctx.cast<Context&>();
    return to_python(op.invoke(c, values));
  };
  m.def("call_op", call_op, py::arg("ctx"), py::arg("index"), py::arg("args"), py::arg("kwargs"),
        "Runs op number `index` of op_infos() on `ctx` (None: the first Tensor argument's).");

  // Context.call(op, *args, **kwargs): the uniform call API, with the op as a handle from
  // metallic.ops (mt.ops.ElemwiseAddOp or mt.ops.add) or its name.
  auto context_class = py::reinterpret_borrow<py::class_<Context, std::shared_ptr<Context>>>(
      py::type::of<Context>());
  context_class.def(
      "call",
      [call_op](py::object self, const py::object& op, const py::args& args,
                const py::kwargs& kwargs) {
        size_t index;
        if (py::isinstance<py::str>(op)) {
          index = op_index(op.cast<std::string>());
        } else if (py::hasattr(op, "index") && py::hasattr(op, "class_name")) {
          index = op.attr("index").cast<size_t>();
        } else {
          throw ArgumentError("Context.call takes an op such as mt.ops.ElemwiseAddOp, got " +
                              std::string(py::repr(op)));
        }
        return call_op(self, index, args, kwargs);
      },
      py::arg("op"),
      "Runs `op` (a handle from metallic.ops, e.g. mt.ops.ElemwiseAddOp, or its name) on this "
      "context with the op's arguments.");
}

}  // namespace metallic::python
