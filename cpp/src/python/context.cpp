// The Context class.
#include "metallic/context.hpp"

#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "metallic/error.hpp"
#include "python/bindings.hpp"
#include "python/convert.hpp"

namespace py = pybind11;

namespace metallic::python {

namespace {

/// Context::set_interrupt_check for Python: runs the signal handlers (Ctrl-C raises
/// KeyboardInterrupt, which then propagates out of the wait).
void check_python_signals() {
  if (!Py_IsInitialized()) return;
  py::gil_scoped_acquire gil;
  if (PyErr_CheckSignals() != 0) throw py::error_already_set();
}

}  // namespace

void bind_context(py::module_& m) {
  py::class_<Context, std::shared_ptr<Context>>(
      m, "Context", "A device with its command queue, buffer pool, pipeline cache and profiler.")
      .def(py::init([](const std::string& device, bool host_checks, const py::object& dispatches) {
             ContextOptions o;
             o.device = device;
             o.host_checks = host_checks;
             o.dispatches_per_command_buffer = static_cast<uint32_t>(
                 int_arg(dispatches, "dispatches_per_command_buffer", 0, UINT32_MAX,
                         " (0: METALLIC_COMMIT_DISPATCHES or the default of 64)"));
             auto ctx = Context::create(o);
             ctx->set_interrupt_check(&check_python_signals);
             return ctx;
           }),
           py::arg("device") = "auto", py::arg("host_checks") = false,
           py::arg("dispatches_per_command_buffer") = 0)
      .def_property_readonly("device", [](Context& c) { return c.device().name(); })
      .def_property_readonly("host_checks", [](Context& c) { return c.options().host_checks; })
      .def("device_info", [](Context& c) { return c.device().info(); })
      .def("tensor", &tensor_from_array, py::arg("data"), py::arg("dtype") = py::none(),
           "A new tensor holding a copy of `data` (a numpy array or anything numpy converts).")
      .def("tensor_from_bytes", &tensor_from_bytes, py::arg("data"), py::arg("dtype"),
           py::arg("shape"),
           "A tensor over the bytes of `data` (bytes, a numpy array, an mmap: any buffer), e.g. "
           "GGUF Q8_0 blocks as dtype='q8_0' with shape (N, K) in elements; no copy on the host "
           "device (the tensor keeps `data` alive; do not modify it meanwhile).")
      .def(
          "zeros",
          [](Context& c, const py::object& shape, const py::object& dtype) {
            return c.tensor(dtype_arg(dtype), shape_from_python(shape), TensorInit::zeros());
          },
          py::arg("shape"), py::arg("dtype") = "f32")
      .def(
          "empty",
          [](Context& c, const py::object& shape, const py::object& dtype) {
            return c.tensor(dtype_arg(dtype), shape_from_python(shape));
          },
          py::arg("shape"), py::arg("dtype") = "f32")
      .def(
          "synchronize",
          [](Context& c) {
            py::gil_scoped_release release;
            c.synchronize();
          },
          "Commits pending work and waits for all of it.")
      .def("commit", &Context::commit, "Starts pending work on the device without waiting.")
      .def(
          "push_scope",
          [](Context& c, std::string name) { c.profiler().push_scope(std::move(name)); },
          py::arg("name"), "Prefixes the profiler labels of later ops with `name/`.")
      .def(
          "pop_scope", [](Context& c) { c.profiler().pop_scope(); },
          "Ends the innermost push_scope (prefer `with ctx.scope(name):`).")
      .def("pool_stats",
           [](Context& c) {
             const auto s = c.pool().stats();
             py::dict d;
             d["allocations"] = s.allocations;
             d["reuses"] = s.reuses;
             d["bytes_allocated"] = s.bytes_allocated;
             d["bytes_free"] = s.bytes_free;
             return d;
           })
      .def_property_readonly("active_sequence", &Context::active_sequence,
                             "Sequence number of the command buffer that ops encode into now.")
      .def_property_readonly(
          "completed_sequence", &Context::completed_sequence,
          "Sequence number of the newest command buffer known to have completed.")
      .def(
          "capture_begin",
          [](Context& c, const std::string& path) {
            c.synchronize();
            c.device().capture_begin(path);
          },
          py::arg("path"), "Starts a GPU capture (Metal only); prefer `with ctx.capture(path):`.")
      .def("capture_end",
           [](Context& c) {
             c.synchronize();
             c.device().capture_end();
           })
      .def("trim_pool", [](Context& c) { c.pool().trim(); })
      .def("__repr__", [](Context& c) { return "Context(device=" + c.device().name() + ")"; });
}

}  // namespace metallic::python
