// Tensor <-> numpy, and the Tensor class.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstring>

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
  py::array converted = contiguous_as(arr, numpy_dtype(target));
  return ctx.tensor(target, shape, TensorInit::copy_from(converted.data()));
}

Shape shape_from_python(const py::handle& shape) {
  if (py::isinstance<py::int_>(shape)) return {shape.cast<int64_t>()};
  const auto dims = shape.cast<std::vector<int64_t>>();
  return Shape(dims.begin(), dims.end());
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
  const py::dtype dt = numpy_dtype(t.dtype());
  std::vector<py::ssize_t> strides;
  for (int64_t s : t.strides())
    strides.push_back(s * static_cast<py::ssize_t>(dtype_size(t.dtype())));
  if (copy) return py::array(dt, shape, strides, data);
  // Zero-copy: the array keeps the tensor (and its buffer) alive. Read-only, because a later op
  // may write the tensor while numpy holds the view.
  py::capsule owner(new Tensor(t), [](void* p) { delete static_cast<Tensor*>(p); });
  py::array view(dt, shape, strides, data, owner);
  py::detail::array_proxy(view.ptr())->flags &= ~py::detail::npy_api::NPY_ARRAY_WRITEABLE_;
  return view;
}

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
             Shape shape;
             if (args.size() == 1 && !py::isinstance<py::int_>(args[0]))
               shape = shape_from_python(args[0]);
             else
               for (auto a : args) shape.push_back(a.cast<int64_t>());
             return t.reshape(shape);
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
      .def_property_readonly(
          "T",
          [](const Tensor& t) {
            std::vector<int64_t> axes;
            for (size_t i = t.ndim(); i-- > 0;) axes.push_back(static_cast<int64_t>(i));
            return t.permute(axes);
          },
          "The view with the axes reversed, as numpy's .T.")
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
      .def("__getitem__", [](const Tensor& t, int64_t i) { return t.select(i); })
      .def("__len__", [](const Tensor& t) { return t.dim(0); })
      .def("__repr__", &Tensor::describe);
}

}  // namespace metallic::python
