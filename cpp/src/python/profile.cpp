// Profiles: `with ctx.profile() as p:` records every dispatch of the block (profiler.hpp).
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <fstream>
#include <optional>

#include "metallic/context.hpp"
#include "metallic/error.hpp"
#include "python/bindings.hpp"

namespace py = pybind11;

namespace metallic::python {

namespace {

/// One profile of one context: started by __enter__ (or start()), ended by __exit__ (stop()).
class ProfileSession {
 public:
  explicit ProfileSession(std::shared_ptr<Context> ctx) : ctx_(std::move(ctx)) {}
  ~ProfileSession() {
    // Never stopped: end the recording without waiting (its records are dropped).
    if (mark_) ctx_->profiler().stop(*mark_);
  }
  ProfileSession(const ProfileSession&) = delete;
  ProfileSession& operator=(const ProfileSession&) = delete;

  void start() {
    if (mark_ || stopped_) throw ArgumentError("a profile records once: use a new ctx.profile()");
    mark_ = ctx_->begin_profile();
  }
  void stop() {
    if (!mark_) throw ArgumentError("the profile is not recording (start it with `with`)");
    const ProfileMark mark = *mark_;
    mark_.reset();
    stopped_ = true;
    py::gil_scoped_release release;  // waits for the recorded work
    profile_ = ctx_->end_profile(mark);
  }
  const Profile& profile() const { return profile_; }

 private:
  std::shared_ptr<Context> ctx_;
  std::optional<ProfileMark> mark_;
  bool stopped_ = false;
  Profile profile_;
};

py::tuple size3(const Size3& s) {
  return py::make_tuple(s[0], s[1], s[2]);
}

}  // namespace

void bind_profile(py::module_& m) {
  py::class_<DispatchRecord>(m, "DispatchRecord", "One dispatch recorded by a profile.")
      .def_readonly("label", &DispatchRecord::label, "The op, or the custom kernel's name.")
      .def_readonly("scope", &DispatchRecord::scope, "Scopes it ran in, 'layer0/attn', or ''.")
      .def_readonly("kernel", &DispatchRecord::kernel, "The kernel function (or device command).")
      .def_property_readonly(
          "grid", [](const DispatchRecord& r) { return size3(r.grid); }, "Threads per dimension.")
      .def_property_readonly(
          "threadgroup", [](const DispatchRecord& r) { return size3(r.threadgroup); },
          "Threads per threadgroup (0 for device-library commands).")
      .def_readonly("bytes", &DispatchRecord::bytes, "Bytes of the tensors bound.")
      .def_readonly("command_buffer", &DispatchRecord::command_buffer,
                    "Sequence number of its command buffer.")
      .def_readonly("start", &DispatchRecord::start,
                    "Seconds since the profile's first timed dispatch started (-1: unknown).")
      .def_readonly("seconds", &DispatchRecord::seconds,
                    "Duration (-1: the device timed only its whole command buffer).")
      .def("__repr__", [](const DispatchRecord& r) {
        return "DispatchRecord(" + (r.scope.empty() ? "" : r.scope + "/") + r.label + ", " +
               r.kernel + ", " + std::to_string(r.seconds * 1e6) + " us)";
      });

  py::class_<ProfileSession>(m, "Profile",
                             "The dispatches of a `with ctx.profile() as p:` block, per dispatch.")
      .def(
          "__enter__",
          [](ProfileSession& p) -> ProfileSession& {
            p.start();
            return p;
          },
          py::return_value_policy::reference)
      .def("__exit__", [](ProfileSession& p, const py::args&) { p.stop(); })
      .def("start", &ProfileSession::start, "Starts recording (what `with` does on entry).")
      .def("stop", &ProfileSession::stop,
           "Waits for the recorded work and stops recording (what `with` does on exit).")
      .def_property_readonly(
          "records", [](const ProfileSession& p) { return p.profile().records; },
          "The recorded dispatches, oldest first (after the block ends).")
      .def_property_readonly(
          "untimed_command_buffer_seconds",
          [](const ProfileSession& p) { return p.profile().untimed_command_buffer_seconds; },
          "Seconds of command buffers the device timed only as a whole.")
      .def(
          "table", [](const ProfileSession& p) { return p.profile().table(); },
          "A text table: one row per op, sorted by total time.")
      .def(
          "export_chrome_trace",
          [](const ProfileSession& p, const std::string& path) {
            std::ofstream out(path);
            out << p.profile().chrome_trace();
            if (!out.flush()) throw ArgumentError("cannot write the trace to " + path);
          },
          py::arg("path"), "Writes the records as a Chrome trace (JSON; opens in Perfetto).")
      .def("__len__", [](const ProfileSession& p) { return p.profile().records.size(); });

  auto context =
      py::reinterpret_borrow<py::class_<Context, std::shared_ptr<Context>>>(m.attr("Context"));
  context.def(
      "profile",
      [](Context& ctx) { return std::make_unique<ProfileSession>(ctx.shared_from_this()); },
      "`with ctx.profile() as p:` records every dispatch of the block; then p.table(), "
      "p.records, p.export_chrome_trace(path).");
}

}  // namespace metallic::python
