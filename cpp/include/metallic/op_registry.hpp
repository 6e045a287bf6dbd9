// Ops register themselves (from their own src/ops/<family>.cpp) with a Python-style signature;
// the Python module and the type stubs are generated from this registry, so adding an op edits
// no central list.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "metallic/context.hpp"

namespace metallic {

/// One argument value crossing from Python (or any other front end) into an op.
using OpValue =
    std::variant<std::monostate, Tensor, int64_t, double, bool, std::string, std::vector<int64_t>>;

struct OpParam;

/// Arguments bound to an op's signature, one value per parameter (defaults already applied).
class OpArgs {
 public:
  OpArgs(const std::vector<OpParam>& params, std::vector<OpValue> values)
      : params_(params), values_(std::move(values)) {}
  const Tensor& tensor(const char* name) const;
  std::optional<Tensor> optional_tensor(const char* name) const;
  int64_t integer(const char* name) const;
  double number(const char* name) const;
  bool boolean(const char* name) const;
  const std::string& string(const char* name) const;
  const std::vector<int64_t>& ints(const char* name) const;

 private:
  const OpValue& get(const char* name) const;
  const std::vector<OpParam>& params_;
  std::vector<OpValue> values_;
};

struct OpParam {
  std::string name;
  std::string type;  // Python annotation: Tensor, int, float, bool, str, ...
  std::optional<std::string> default_value;  // Python literal
};

struct OpInfo {
  std::string python_name;  // mt.ops.<python_name>
  std::string class_name;   // mt.ops.<ClassName>, for ctx.call(mt.ops.ClassName, ...)
  std::vector<OpParam> params;
  std::string returns = "Tensor";
  std::string doc;
  std::function<Tensor(Context&, const OpArgs&)> invoke;
};

/// Parses "a: Tensor, b: Tensor, eps: float = 1e-5" into parameters.
std::vector<OpParam> parse_signature(const std::string& signature);

/// Adds an op; called from static initialisers in src/ops. Returns true (for the initialiser).
bool register_op(OpInfo info);
const std::vector<OpInfo>& registered_ops();
const OpInfo& find_op(const std::string& python_or_class_name);
/// Position of an op in registered_ops() (stable for the life of the process).
size_t op_index(const std::string& python_or_class_name);

}  // namespace metallic

/// Registers `OpType` as mt.ops.<py_name>(signature) and mt.ops.<OpType>.
/// `invoke` is a lambda (Context&, const OpArgs&) -> Tensor.
#define METALLIC_REGISTER_OP(OpType, py_name, signature, doc, invoke)                          \
  static const bool metallic_registered_##OpType = ::metallic::register_op(::metallic::OpInfo{ \
      py_name, #OpType, ::metallic::parse_signature(signature), "Tensor", doc, invoke})
