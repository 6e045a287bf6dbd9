// metallic._core: the thin typed layer over the C++ runtime. Python-facing conveniences live in
// python/metallic; this file maps errors and defines the module.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "metallic/device.hpp"
#include "metallic/error.hpp"
#include "python/bindings.hpp"

namespace py = pybind11;

namespace {

PyObject* make_error(py::module_& m, const char* name, PyObject* bases, const char* doc) {
  std::string qualified = std::string("metallic.") + name;
  PyObject* type = PyErr_NewExceptionWithDoc(qualified.c_str(), doc, bases, nullptr);
  if (!type) throw py::error_already_set();
  m.add_object(name, py::handle(type));
  return type;
}

}  // namespace

PYBIND11_MODULE(_core, m) {
  m.doc() = "metallic's C++ runtime (use the `metallic` package, not this module directly)";

  static PyObject* base = make_error(m, "MetallicError", PyExc_Exception,
                                     "Root of every error metallic raises on purpose.");
  auto pair = [](PyObject* a, PyObject* b) {
    return py::make_tuple(py::handle(a), py::handle(b)).release().ptr();
  };
  static PyObject* shape = make_error(m, "ShapeError", pair(base, PyExc_ValueError),
                                      "Shapes that do not fit the operation.");
  static PyObject* index = make_error(m, "IndexError", pair(shape, PyExc_IndexError),
                                      "An index out of a tensor's range.");
  static PyObject* dtype = make_error(m, "DTypeError", pair(base, PyExc_TypeError),
                                      "Element types that do not fit the operation.");
  static PyObject* argument =
      make_error(m, "ArgumentError", pair(base, PyExc_ValueError), "Any other invalid argument.");
  static PyObject* compile = make_error(m, "KernelCompileError", base,
                                        "A kernel source that does not translate or compile.");
  static PyObject* device =
      make_error(m, "DeviceError", base, "The device failed, or a kernel faulted.");

  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const metallic::IndexError& e) {
      PyErr_SetString(index, e.what());
    } catch (const metallic::ShapeError& e) {
      PyErr_SetString(shape, e.what());
    } catch (const metallic::DTypeError& e) {
      PyErr_SetString(dtype, e.what());
    } catch (const metallic::ArgumentError& e) {
      PyErr_SetString(argument, e.what());
    } catch (const metallic::KernelCompileError& e) {
      PyErr_SetString(compile, e.what());
    } catch (const metallic::DeviceError& e) {
      PyErr_SetString(device, e.what());
    } catch (const metallic::MetallicError& e) {
      PyErr_SetString(base, e.what());
    }
  });

  m.def("available_devices", &metallic::available_devices,
        "The devices compiled into this build: 'host', and 'metal' on macOS.");
  metallic::python::bind_tensor(m);
  metallic::python::bind_context(m);
  metallic::python::bind_ops(m);
  metallic::python::bind_backends(m);
  metallic::python::bind_graph(m);
  metallic::python::bind_kernels(m);
  metallic::python::bind_profile(m);
  metallic::python::bind_dlpack(m);
}
