#include "metallic/backend_registry.hpp"

#include <algorithm>
#include <cctype>
#include <cstdlib>

#include "metallic/error.hpp"

namespace metallic {

namespace {

struct Registration {
  std::string op, backend;
  BackendDevices devices;
};

std::vector<Registration>& registrations() {
  static std::vector<Registration> list;
  return list;
}

bool runs_on(BackendDevices devices, DeviceKind device) {
  switch (devices) {
    case BackendDevices::Any:
      return true;
    case BackendDevices::HostOnly:
      return device == DeviceKind::Host;
    case BackendDevices::MetalOnly:
      return device == DeviceKind::Metal;
  }
  return false;
}

std::string upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

std::string valid_names(const std::string& op, DeviceKind device) {
  std::string names = "auto";
  for (const auto& b : KernelBackendRegistry::available(op, device)) names += ", " + b;
  return names;
}

void check_available(const std::string& op, const std::string& backend, DeviceKind device,
                     const std::string& source) {
  const auto list = KernelBackendRegistry::available(op, device);
  if (std::find(list.begin(), list.end(), backend) != list.end()) return;
  const auto all = KernelBackendRegistry::ops();
  if (std::find(all.begin(), all.end(), op) == all.end()) {
    std::string ops;
    for (const auto& o : all) ops += (ops.empty() ? "" : ", ") + o;
    throw ArgumentError(source + ": no op '" + op + "' has backends (ops with backends: " + ops +
                        ")");
  }
  throw ArgumentError(source + ": unknown backend '" + backend + "' for " + op +
                      " on this device; valid: " + valid_names(op, device));
}

}  // namespace

bool KernelBackendRegistry::register_backend(const std::string& op, const std::string& backend,
                                             BackendDevices devices) {
  registrations().push_back({op, backend, devices});
  return true;
}

std::vector<std::string> KernelBackendRegistry::ops() {
  std::vector<std::string> out;
  for (const auto& r : registrations()) {
    if (std::find(out.begin(), out.end(), r.op) == out.end()) out.push_back(r.op);
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> KernelBackendRegistry::available(const std::string& op,
                                                          DeviceKind device) {
  std::vector<std::string> out;
  for (const auto& r : registrations()) {
    if (r.op == op && runs_on(r.devices, device)) out.push_back(r.backend);
  }
  return out;
}

void BackendSelector::set_override(const std::string& op, const std::string& backend,
                                   DeviceKind device) {
  if (backend == "auto") {
    overrides_.erase(op);
    return;
  }
  check_available(op, backend, device, "backend override");
  overrides_[op] = backend;
}

std::string BackendSelector::override_for(const std::string& op) const {
  auto it = overrides_.find(op);
  return it == overrides_.end() ? "auto" : it->second;
}

std::string BackendSelector::select(const std::string& op, DeviceKind device,
                                    const std::function<Choice()>& auto_policy) {
  KernelBackendSelected event;
  event.op = op;
  if (auto it = overrides_.find(op); it != overrides_.end()) {
    event.backend = it->second;
    event.reason = "forced on this context";
  } else {
    auto env = environment_.find(op);
    if (env == environment_.end()) {
      std::string value;
      for (const std::string name :
           {"METALLIC_FORCE_" + upper(op) + "_BACKEND", "METALLIC_" + upper(op) + "_BACKEND"}) {
        const char* v = std::getenv(name.c_str());
        if (v && *v && std::string(v) != "auto") {
          check_available(op, v, device, name);
          value = std::string(v) + '\0' + name;
          break;
        }
      }
      env = environment_.emplace(op, value).first;
    }
    if (!env->second.empty()) {
      const auto sep = env->second.find('\0');
      event.backend = env->second.substr(0, sep);
      event.reason = "forced by " + env->second.substr(sep + 1);
    } else {
      Choice c = auto_policy();
      event.backend = std::move(c.backend);
      event.reason = "auto: " + c.reason;
    }
  }
  if (events_.size() >= 1024) events_.pop_front();
  events_.push_back(event);
  return event.backend;
}

std::vector<KernelBackendSelected> BackendSelector::events(bool clear) {
  std::vector<KernelBackendSelected> out(events_.begin(), events_.end());
  if (clear) events_.clear();
  return out;
}

}  // namespace metallic
