// KernelBackendRegistry: for each op with several implementations (matmul: msl | mps | blas,
// softmax: vec | block, sdpa: legacy | mpsgraph, ...), the backends each device offers, and the
// one place that chooses between them. The choice is, in order: the context's override
// (Context::backends().set_override, the CLI's --<op>-backend), the environment
// (METALLIC_FORCE_<OP>_BACKEND, or METALLIC_<OP>_BACKEND), else the op's `auto` policy with the
// reason it gives. Every choice is a KernelBackendSelected event. Backends register from their
// op's own file, so a new backend (the graph issue's mpsgraph) is a registration, not a rewrite.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "metallic/device.hpp"

namespace metallic {

class Context;

/// Which devices a backend runs on.
enum class BackendDevices : uint8_t { Any, HostOnly, MetalOnly };

/// One choice of a backend for one call of an op.
struct KernelBackendSelected {
  std::string op;       // "matmul"
  std::string backend;  // "blas"
  std::string reason;   // "forced by METALLIC_FORCE_MATMUL_BACKEND", "auto: M = 1 (GEMV)", ...
};

/// The process-wide list of (op, backend) registrations.
class KernelBackendRegistry {
 public:
  /// Registers `backend` for `op`; called from static initialisers in src/ops. Returns true.
  static bool register_backend(const std::string& op, const std::string& backend,
                               BackendDevices devices = BackendDevices::Any);
  /// Ops with registered backends, sorted.
  static std::vector<std::string> ops();
  /// The backends of `op` available on `device`, in registration order.
  static std::vector<std::string> available(const std::string& op, DeviceKind device);
};

/// A context's backend overrides and its record of choices.
class BackendSelector {
 public:
  /// What an op's `auto` policy returns: a backend and why.
  struct Choice {
    std::string backend;
    std::string reason;
  };

  /// Forces `backend` for `op` on this context ("auto" removes the override). Throws
  /// ArgumentError listing the valid names when `backend` is not available here.
  void set_override(const std::string& op, const std::string& backend, DeviceKind device);
  /// The context's override for `op`, or "auto".
  std::string override_for(const std::string& op) const;

  /// Chooses the backend for one call of `op` (see the top of this file) and records the event.
  /// `auto_policy` runs only when nothing forces a backend.
  std::string select(const std::string& op, DeviceKind device,
                     const std::function<Choice()>& auto_policy);

  /// The recorded choices (the newest 1024), oldest first; `clear` empties the record.
  std::vector<KernelBackendSelected> events(bool clear);

 private:
  std::map<std::string, std::string> overrides_;
  std::map<std::string, std::string> environment_;  // op -> forced backend, read once per op
  std::deque<KernelBackendSelected> events_;
};

}  // namespace metallic
