// The backend registry from Python: mt.backends(), ctx.set_backend, ctx.backend_events.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "metallic/backend_registry.hpp"
#include "metallic/context.hpp"
#include "python/bindings.hpp"

namespace py = pybind11;

namespace metallic::python {

void bind_backends(py::module_& m) {
  m.def(
      "backends",
      [](Context& ctx) {
        py::dict out;
        for (const auto& op : KernelBackendRegistry::ops()) {
          out[py::str(op)] = KernelBackendRegistry::available(op, ctx.device().kind());
        }
        return out;
      },
      py::arg("ctx"), "{op: [backends available on ctx's device]} for ops with several backends.");

  auto context_class = py::reinterpret_borrow<py::class_<Context, std::shared_ptr<Context>>>(
      py::type::of<Context>());
  context_class
      .def(
          "set_backend",
          [](Context& c, const std::string& op, const std::string& backend) {
            c.backends().set_override(op, backend, c.device().kind());
          },
          py::arg("op"), py::arg("backend"),
          "Forces `backend` for `op` on this context ('auto' lets the op choose again).")
      .def(
          "backend",
          [](Context& c, const std::string& op) { return c.backends().override_for(op); },
          py::arg("op"), "The backend forced for `op` on this context, or 'auto'.")
      .def(
          "backend_events",
          [](Context& c, bool clear) {
            py::list out;
            for (const auto& e : c.backends().events(clear)) {
              out.append(py::make_tuple(e.op, e.backend, e.reason));
            }
            return out;
          },
          py::arg("clear") = true,
          "KernelBackendSelected events as (op, backend, reason), oldest first (the newest 1024).");
}

}  // namespace metallic::python
