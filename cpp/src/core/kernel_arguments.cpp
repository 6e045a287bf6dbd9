// ComputeKernelEncoder::validate_arguments: a custom kernel's bindings against the parameters its
// pipeline reflects, so that a wrong argument is an error that says what to change instead of a
// kernel silently reading the wrong bytes.
#include <algorithm>
#include <string>

#include "metallic/error.hpp"
#include "metallic/kernel.hpp"

namespace metallic {

namespace {

/// "[[buffer(2)]] `constant float& s`".
std::string describe(const KernelArgument& a) {
  const char* attr = a.kind == KernelArgument::Kind::Buffer ? "buffer" : "threadgroup";
  std::string s = "[[" + std::string(attr) + "(" + std::to_string(a.index) + ")]]";
  if (!a.name.empty()) s += " `" + (a.type.empty() ? a.name : a.type + " " + a.name) + "`";
  return s;
}

/// "0 x, 1 y, 2 s": the parameters of one kind, for messages.
std::string listing(const std::vector<KernelArgument>& args, KernelArgument::Kind kind) {
  std::string s;
  for (const auto& a : args) {
    if (a.kind != kind) continue;
    s += (s.empty() ? "" : ", ") + std::to_string(a.index) + " " + a.name;
  }
  return s.empty() ? "none" : s;
}

const KernelArgument* find(const std::vector<KernelArgument>& args, KernelArgument::Kind kind,
                           uint32_t index) {
  for (const auto& a : args) {
    if (a.kind == kind && a.index == index) return &a;
  }
  return nullptr;
}

}  // namespace

void ComputeKernelEncoder::validate_arguments() const {
  const Pipeline& p = current_pipeline();
  const std::vector<KernelArgument> args = p.arguments();
  const std::string kernel = "kernel " + p.function_name();
  using Kind = KernelArgument::Kind;
  size_t threadgroup_bytes = p.static_threadgroup_memory_length();
  if (!args.empty()) {
    for (const Binding& b : command_.bindings) {
      const KernelArgument* a = find(args, Kind::Buffer, b.index);
      if (a == nullptr) {
        throw ArgumentError(kernel + " has no parameter [[buffer(" + std::to_string(b.index) +
                            ")]] (its buffer parameters: " + listing(args, Kind::Buffer) +
                            "): remove the extra argument");
      }
      if (a->element_size == 0) continue;
      const std::string what = kernel + ": " + describe(*a);
      if (!b.buffer) {
        const size_t n = b.bytes.size();
        // As Metal's validation: a binding must hold at least the argument; the kernel reads
        // the leading bytes of a longer one (candle binds an 8-byte usize to `constant uint&`).
        if (a->is_reference && n < a->element_size) {
          throw ArgumentError(what + " needs " + std::to_string(a->element_size) + " bytes; got " +
                              std::to_string(n) +
                              " (pass a value of its type: np.float32(x) for a float, "
                              "np.uint32(n) for a uint, a struct's bytes for a struct)");
        }
        if (!a->is_reference && (n == 0 || n % a->element_size != 0)) {
          throw ArgumentError(what + " takes whole elements of " + std::to_string(a->element_size) +
                              " bytes; got " + std::to_string(n) + " bytes");
        }
      } else if (a->is_reference) {
        size_t extent = 0;
        for (const auto& [index, bytes] : tensor_extents_) {
          if (index == b.index) extent = bytes;
        }
        if (extent < a->element_size) {
          throw ArgumentError(what + " needs " + std::to_string(a->element_size) +
                              " bytes; the tensor bound to it holds " + std::to_string(extent));
        }
      }
    }
    for (const KernelArgument& a : args) {
      if (a.kind != Kind::Buffer || a.optional) continue;
      const bool bound = std::any_of(command_.bindings.begin(), command_.bindings.end(),
                                     [&](const Binding& b) { return b.index == a.index; });
      const bool on_purpose =
          std::find(unbound_.begin(), unbound_.end(), a.index) != unbound_.end();
      if (!bound && !on_purpose) {
        throw ArgumentError(kernel + ": nothing is bound to " + describe(a) +
                            ": pass an argument at position " + std::to_string(a.index) +
                            " (None if the kernel does not use it)");
      }
    }
  }
  for (const auto& [index, length] : command_.threadgroup_memory) {
    const KernelArgument* a = args.empty() ? nullptr : find(args, Kind::Threadgroup, index);
    if (!args.empty() && a == nullptr) {
      throw ArgumentError(kernel + " has no parameter [[threadgroup(" + std::to_string(index) +
                          ")]] (its threadgroup parameters: " + listing(args, Kind::Threadgroup) +
                          "): remove threadgroup_memory[" + std::to_string(index) + "]");
    }
    if (length % 16 != 0 || length == 0) {
      throw ArgumentError(kernel + ": threadgroup_memory[" + std::to_string(index) +
                          "] = " + std::to_string(length) +
                          " bytes: Metal needs a positive multiple of 16 (use " +
                          std::to_string((length + 15) / 16 * 16 + (length == 0 ? 16 : 0)) + ")");
    }
    if (a != nullptr && length < a->element_size) {
      throw ArgumentError(kernel + ": " + describe(*a) + " needs at least " +
                          std::to_string(a->element_size) + " bytes of threadgroup_memory[" +
                          std::to_string(index) + "]; got " + std::to_string(length));
    }
    threadgroup_bytes += length;
  }
  for (const KernelArgument& a : args) {
    if (a.kind != Kind::Threadgroup || a.optional) continue;
    const bool given =
        std::any_of(command_.threadgroup_memory.begin(), command_.threadgroup_memory.end(),
                    [&](const auto& tg) { return tg.first == a.index; });
    if (!given) {
      throw ArgumentError(kernel + ": " + describe(a) +
                          " has no memory: pass threadgroup_memory={" + std::to_string(a.index) +
                          ": bytes} (a multiple of 16)");
    }
  }
  if (threadgroup_bytes > ctx_.max_threadgroup_memory()) {
    throw ArgumentError(kernel + " uses " + std::to_string(threadgroup_bytes) +
                        " bytes of threadgroup memory (" +
                        std::to_string(p.static_threadgroup_memory_length()) +
                        " declared in the kernel, the rest from threadgroup_memory); the device "
                        "allows " +
                        std::to_string(ctx_.max_threadgroup_memory()));
  }
}

}  // namespace metallic
