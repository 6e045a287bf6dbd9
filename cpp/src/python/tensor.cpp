// Tensor <-> numpy, and the Tensor class.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstring>
#include <optional>

#include "core/float16.hpp"
#include "metallic/context.hpp"
#include "metallic/error.hpp"
#include "python/bindings.hpp"
#include "python/convert.hpp"

namespace py = pybind11;

namespace metallic::python {

py::dtype numpy_dtype(DType t) {
  switch (t) {
    case DType::F32:
      return py::dtype("float32");
    case DType::F16:
      return py::dtype("float16");
    case DType::BF16:
      return py::dtype("float32");  // numpy has no bfloat16: widened on export
    case DType::I32:
      return py::dtype("int32");
    case DType::U32:
      return py::dtype("uint32");
    case DType::I8:
      return py::dtype("int8");
    case DType::U8:
      return py::dtype("uint8");
    case DType::I64:
      return py::dtype("int64");
    case DType::Q8_0:
    case DType::Q4_0:
      return py::dtype("uint8");  // the raw blocks
  }
  throw DTypeError("unsupported dtype");
}

DType dtype_from_numpy(const py::dtype& dt) {
  const char kind = dt.kind();
  const auto size = dt.itemsize();
  if (kind == 'f' && (size == 4 || size == 8)) return DType::F32;  // f64 narrows, like MLX
  if (kind == 'f' && size == 2) return DType::F16;
  if (kind == 'i' && size == 4) return DType::I32;
  if (kind == 'i' && size == 8) return DType::I64;
  if (kind == 'i' && size == 1) return DType::I8;
  if (kind == 'u' && size == 4) return DType::U32;
  if (kind == 'u' && size == 1) return DType::U8;
  if (kind == 'b') return DType::U8;
  throw DTypeError("numpy dtype " + std::string(py::str(dt)) +
                   " has no metallic equivalent: convert to float32, float16, int32, uint32, "
                   "int8, uint8 or int64 first");
}

/// `arr` as a C-contiguous array of `dtype`, copying only if it is not one already.
static py::array contiguous_as(const py::array& arr, const py::dtype& dtype) {
  return py::module_::import("numpy").attr("ascontiguousarray")(arr, dtype);
}

DType dtype_arg(const py::object& dtype) {
  if (py::isinstance<py::str>(dtype)) return parse_dtype(dtype.cast<std::string>());
  return dtype_from_numpy(py::dtype::from_args(dtype));
}

Tensor tensor_from_array(Context& ctx, const py::object& data, const py::object& dtype) {
  py::array arr = py::array::ensure(data);
  if (!arr) throw ArgumentError("ctx.tensor() takes a numpy array or something numpy can convert");
  const DType target = dtype.is_none() ? dtype_from_numpy(arr.dtype()) : dtype_arg(dtype);
  Shape shape(arr.shape(), arr.shape() + arr.ndim());
  if (target == DType::BF16) {
    py::array_t<float, py::array::c_style | py::array::forcecast> f(arr);
    std::vector<uint16_t> bits(static_cast<size_t>(f.size()));
    const float* src = f.data();
    for (size_t i = 0; i < bits.size(); ++i) bits[i] = float_to_bf16(src[i]);
    return ctx.tensor(target, shape, TensorInit::copy_from(bits.data()));
  }
  if (dtype_is_quantized(target)) {
    throw DTypeError(std::string("ctx.tensor() cannot make a ") + dtype_name(target) +
                     " tensor from values: use mt.ops.quantize(x, \"" + dtype_name(target) +
                     "\") or ctx.tensor_from_bytes(blocks, dtype, shape)");
  }
  py::array converted = contiguous_as(arr, numpy_dtype(target));
  return ctx.tensor(target, shape, TensorInit::copy_from(converted.data()));
}

namespace {

/// `value` as an int64 via __index__, or nullopt (not an integer) / overflow set.
std::optional<int64_t> index_value(const py::handle& value, bool& overflow) {
  overflow = false;
  if (PyBool_Check(value.ptr()) || PyFloat_Check(value.ptr())) return std::nullopt;
  PyObject* index = PyNumber_Index(value.ptr());
  if (index == nullptr) {
    PyErr_Clear();
    return std::nullopt;
  }
  int over = 0;
  const long long v = PyLong_AsLongLongAndOverflow(index, &over);
  Py_DECREF(index);
  overflow = over != 0;
  return static_cast<int64_t>(v);
}

}  // namespace

int64_t int_arg(const py::handle& value, const std::string& what, int64_t lo, int64_t hi,
                const std::string& hint) {
  bool overflow = false;
  const auto v = index_value(value, overflow);
  if (!v || overflow || *v < lo || *v > hi) {
    throw ArgumentError(what + " must be an integer from " + std::to_string(lo) + " to " +
                        std::to_string(hi) + hint + ", got " + std::string(py::repr(value)));
  }
  return *v;
}

Tensor tensor_from_bytes(Context& ctx, const py::buffer& data, const py::object& dtype,
                         const py::object& shape) {
  py::buffer_info info = data.request();
  if (!PyBuffer_IsContiguous(info.view(), 'C')) {
    throw ArgumentError("tensor_from_bytes() needs a C-contiguous buffer");
  }
  const auto nbytes = static_cast<size_t>(info.size * info.itemsize);
  // The tensor's storage keeps the Python object alive. It may be released on any thread (the
  // device's queue thread too), so the reference is dropped by the interpreter's pending-call
  // queue, which needs no GIL here and cannot deadlock with a thread that waits holding it.
  PyObject* keep = data.ptr();
  Py_INCREF(keep);
  std::shared_ptr<void> owner(keep, [](void* p) {
    if (!Py_IsInitialized()) return;
    Py_AddPendingCall(
        [](void* o) {
          Py_DECREF(static_cast<PyObject*>(o));
          return 0;
        },
        p);
  });
  return ctx.tensor_from_host_memory(dtype_arg(dtype), shape_from_python(shape), info.ptr, nbytes,
                                     std::move(owner));
}

Shape shape_from_python(const py::handle& shape) {
  std::vector<py::handle> items;
  bool overflow = false;
  if (index_value(shape, overflow) || overflow) {
    items.push_back(shape);
  } else if (py::isinstance<py::sequence>(shape) && !py::isinstance<py::str>(shape)) {
    for (auto item : py::reinterpret_borrow<py::sequence>(shape)) items.push_back(item);
  } else {
    throw ShapeError("a shape is an int or a sequence of ints, got " +
                     std::string(py::repr(shape)));
  }
  if (items.size() > Shape::kMaxDims) {
    throw ShapeError("tensors have at most " + std::to_string(Shape::kMaxDims) +
                     " dimensions, got " + std::to_string(items.size()));
  }
  Shape out;
  for (const auto& item : items) {
    const auto d = index_value(item, overflow);
    if (overflow) {
      throw ShapeError("dimension " + std::string(py::repr(item)) + " of shape " +
                       std::string(py::repr(shape)) +
                       " is larger than 2^63-1: no device can "
                       "hold it");
    }
    if (!d) {
      throw ShapeError("a shape's dimensions are ints, got " + std::string(py::repr(item)) +
                       " in " + std::string(py::repr(shape)));
    }
    out.push_back(*d);
  }
  return out;
}

py::tuple shape_to_python(const Shape& shape) {
  py::tuple out(shape.size());
  for (size_t i = 0; i < shape.size(); ++i) out[i] = py::int_(shape[i]);
  return out;
}

py::array tensor_to_numpy(const Tensor& t, bool copy) {
  const void* data;
  {
    py::gil_scoped_release release;  // waiting for the device
    data = t.data_for_read();
  }
  std::vector<py::ssize_t> shape(t.shape().begin(), t.shape().end());
  if (t.dtype() == DType::BF16) {
    if (!t.is_contiguous()) {
      throw ShapeError(
          "numpy() of a non-contiguous bf16 view is not supported; call .contiguous() first");
    }
    py::array_t<float> out(shape);
    const auto* src = static_cast<const uint16_t*>(data);
    float* dst = out.mutable_data();
    for (int64_t i = 0; i < t.numel(); ++i) dst[i] = bf16_to_float(src[i]);
    return std::move(out);
  }
  if (dtype_is_quantized(t.dtype())) {  // the raw blocks: [..., K / 32 * block bytes] of uint8
    if (!t.is_contiguous()) throw ShapeError("numpy() of a non-contiguous quantized view");
    shape.back() = static_cast<py::ssize_t>(dtype_nbytes(t.dtype(), size_t(shape.back())));
  }
  const py::dtype dt = numpy_dtype(t.dtype());
  std::vector<py::ssize_t> strides;
  if (dtype_is_quantized(t.dtype())) {
    strides = py::detail::c_strides(shape, 1);
  } else {
    for (int64_t s : t.strides())
      strides.push_back(s * static_cast<py::ssize_t>(dtype_size(t.dtype())));
  }
  if (copy) return py::array(dt, shape, strides, data);
  // Zero-copy: the array keeps the tensor (and its buffer) alive. Read-only, because a later op
  // may write the tensor while numpy holds the view.
  py::capsule owner(new Tensor(t), [](void* p) { delete static_cast<Tensor*>(p); });
  py::array view(dt, shape, strides, data, owner);
  py::detail::array_proxy(view.ptr())->flags &= ~py::detail::npy_api::NPY_ARRAY_WRITEABLE_;
  return view;
}

namespace {

/// `t[key]` as numpy indexes: ints (negative from the end), slices (any step), None (a new
/// dimension of size 1) and one `...`; always a view.
Tensor index_tensor(const Tensor& t, const py::handle& key) {
  std::vector<py::handle> items;
  if (PyTuple_Check(key.ptr())) {
    for (auto item : py::reinterpret_borrow<py::tuple>(key)) items.push_back(item);
  } else {
    items.push_back(key);
  }
  size_t consumed = 0;
  bool ellipsis = false;
  bool overflow = false;
  for (const auto& item : items) {
    if (item.ptr() == Py_Ellipsis) {
      if (ellipsis) throw IndexError("an index can only have a single ellipsis ('...')");
      ellipsis = true;
    } else if (PySlice_Check(item.ptr()) || index_value(item, overflow) || overflow) {
      consumed++;
    } else if (!item.is_none()) {
      throw ArgumentError("tensors are indexed with ints, slices, None and '...' (views); got " +
                          std::string(py::repr(item)) +
                          (py::isinstance<py::bool_>(item) || py::hasattr(item, "__len__")
                               ? ": boolean and array (advanced) indexing is not supported"
                               : ""));
    }
  }
  if (consumed > t.ndim()) {
    throw IndexError("too many indices for a tensor of shape " + shape_str(t.shape()) + ": " +
                     std::to_string(t.ndim()) + "-dimensional, but " + std::to_string(consumed) +
                     " were indexed");
  }
  Tensor out = t;
  int64_t dim = 0;   // the dimension of `out` the next item applies to
  int64_t axis = 0;  // the dimension of `t` it applies to (for messages)
  for (const auto& item : items) {
    if (item.ptr() == Py_Ellipsis) {
      dim += static_cast<int64_t>(t.ndim() - consumed);
      axis += static_cast<int64_t>(t.ndim() - consumed);
    } else if (item.is_none()) {
      out = out.unsqueeze(dim++);
    } else if (PySlice_Check(item.ptr())) {
      Py_ssize_t start = 0, stop = 0, step = 0;
      if (PySlice_Unpack(item.ptr(), &start, &stop, &step) != 0) throw py::error_already_set();
      const Py_ssize_t count = PySlice_AdjustIndices(out.dim(dim), &start, &stop, step);
      out = out.strided_slice(dim++, start, count, step);
      axis++;
    } else {
      const auto i = index_value(item, overflow);
      const int64_t n = out.dim(dim);
      if (overflow || *i < -n || *i >= n) {
        throw IndexError("index " + std::string(py::repr(item)) +
                         " is out of range for dimension " + std::to_string(axis) + " of size " +
                         std::to_string(n));
      }
      out = out.select(dim, *i);
      axis++;
    }
  }
  return out;
}

/// The axes in reverse order (numpy's .T): any rank.
Tensor reversed_axes(const Tensor& t) {
  std::vector<int64_t> dims;
  for (size_t i = t.ndim(); i-- > 0;) dims.push_back(static_cast<int64_t>(i));
  return t.permute(dims);
}

}  // namespace

void bind_tensor(py::module_& m) {
  py::class_<Tensor>(m, "Tensor", "A typed, shaped view of device memory. Ops on it run lazily.")
      .def_property_readonly("shape", [](const Tensor& t) { return shape_to_python(t.shape()); })
      .def_property_readonly("dtype",
                             [](const Tensor& t) { return std::string(dtype_name(t.dtype())); })
      .def_property_readonly("strides",
                             [](const Tensor& t) { return shape_to_python(t.strides()); })
      .def_property_readonly("ndim", &Tensor::ndim)
      .def_property_readonly("size", &Tensor::numel)
      .def_property_readonly("nbytes", &Tensor::nbytes)
      .def_property_readonly("context",
                             [](const Tensor& t) { return t.context().shared_from_this(); })
      .def("is_contiguous", &Tensor::is_contiguous)
      .def("numpy", &tensor_to_numpy, py::arg("copy") = false,
           "Waits for pending writes; returns a read-only zero-copy view (copy=True: a copy).")
      .def(
          "__array__",
          [](const Tensor& t, py::object dtype, py::object copy) {
            py::array a = tensor_to_numpy(t, !copy.is_none() && copy.cast<bool>());
            return dtype.is_none() ? a : py::array(a.attr("astype")(dtype));
          },
          py::arg("dtype") = py::none(), py::arg("copy") = py::none())
      .def("item",
           [](const Tensor& t) {
             if (t.numel() != 1)
               throw ShapeError("item() needs a tensor with one element, got shape " +
                                shape_str(t.shape()));
             return tensor_to_numpy(t, true).attr("reshape")(py::tuple()).attr("item")();
           })
      .def("reshape",
           [](const Tensor& t, const py::args& args) {
             const py::handle shape = args.size() == 1 ? py::handle(args[0]) : py::handle(args);
             return t.reshape(shape_from_python(shape));
           })
      .def("slice", &Tensor::slice, py::arg("start"), py::arg("stop"),
           "A view of rows [start, stop) of the outermost dimension.")
      .def(
          "transpose",
          [](const Tensor& t, const py::args& args) {
            std::vector<int64_t> axes;
            if (args.size() == 1 && !py::isinstance<py::int_>(args[0]))
              axes = args[0].cast<std::vector<int64_t>>();
            else
              for (auto a : args) axes.push_back(a.cast<int64_t>());
            if (args.size() == 0)
              for (size_t i = t.ndim(); i-- > 0;) axes.push_back(static_cast<int64_t>(i));
            return t.permute(axes);
          },
          "numpy's transpose as a view (no copy): axis i of the result is axis axes[i]; no axes "
          "reverses them.")
      .def("swapaxes", &Tensor::transpose, py::arg("axis1"), py::arg("axis2"),
           "A view with two axes swapped (no copy).")
      .def_property_readonly("T", &reversed_axes,
                             "A view with the dimensions in reverse order (numpy's .T).")
      .def(
          "copy_from",
          [](const Tensor& t, const py::object& data) {
            py::array arr = py::array::ensure(data);
            if (!arr) throw ArgumentError("copy_from() takes a numpy array");
            Shape shape(arr.shape(), arr.shape() + arr.ndim());
            if (shape != t.shape())
              throw ShapeError("copy_from: array of shape " + shape_str(shape) +
                               " into a tensor of shape " + shape_str(t.shape()));
            if (t.dtype() == DType::BF16)
              throw DTypeError(
                  "copy_from into a bf16 tensor is not supported; create it with ctx.tensor(..., "
                  "dtype='bf16')");
            py::array c = contiguous_as(arr, numpy_dtype(t.dtype()));
            py::gil_scoped_release release;  // may wait for pending uses of the tensor
            t.copy_from_host(c.data(), t.nbytes());
          },
          py::arg("data"),
          "Overwrites the tensor with host data, after pending uses of it complete.")
      .def("__getitem__", &index_tensor, py::arg("key"),
           "A view, indexed as numpy does: ints, slices (with steps), None and '...'.")
      .def("__len__",
           [](const Tensor& t) {
             if (t.ndim() == 0) throw py::type_error("len() of a 0-dimensional tensor");
             return t.dim(0);
           })
      .def("__repr__", &Tensor::describe);
}

}  // namespace metallic::python
