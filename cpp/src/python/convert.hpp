// Conversions between Python values and metallic types, shared by the binding files.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <string>

#include "metallic/context.hpp"

namespace metallic::python {

pybind11::dtype numpy_dtype(DType t);
DType dtype_from_numpy(const pybind11::dtype& dt);
/// A dtype given as a name ("f16") or anything numpy.dtype() accepts.
DType dtype_arg(const pybind11::object& dtype);
Tensor tensor_from_array(Context& ctx, const pybind11::object& data, const pybind11::object& dtype);
/// ctx.tensor_from_bytes(data, dtype, shape): a tensor over a Python buffer, without a copy where
/// the device allows.
Tensor tensor_from_bytes(Context& ctx, const pybind11::buffer& data, const pybind11::object& dtype,
                         const pybind11::object& shape);
pybind11::array tensor_to_numpy(const Tensor& t, bool copy);
/// `value` as an integer in [lo, hi] (a Python int or anything with __index__, such as numpy
/// integers); otherwise ArgumentError "`what` must be ...`hint`".
int64_t int_arg(const pybind11::handle& value, const std::string& what, int64_t lo, int64_t hi,
                const std::string& hint = "");
/// A shape from an int or a sequence of ints; ShapeError for anything else.
Shape shape_from_python(const pybind11::handle& shape);
pybind11::tuple shape_to_python(const Shape& shape);

}  // namespace metallic::python
