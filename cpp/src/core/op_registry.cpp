#include "metallic/op_registry.hpp"

#include <sstream>

#include "metallic/error.hpp"

namespace metallic {

namespace {

std::vector<OpInfo>& registry() {
  static std::vector<OpInfo> ops;
  return ops;
}

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\n");
  const auto e = s.find_last_not_of(" \t\n");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

}  // namespace

std::vector<OpParam> parse_signature(const std::string& signature) {
  std::vector<OpParam> params;
  std::stringstream ss(signature);
  std::string piece;
  while (std::getline(ss, piece, ',')) {
    piece = trim(piece);
    if (piece.empty()) continue;
    OpParam p;
    const auto eq = piece.find('=');
    if (eq != std::string::npos) {
      p.default_value = trim(piece.substr(eq + 1));
      piece = trim(piece.substr(0, eq));
    }
    const auto colon = piece.find(':');
    p.name = trim(piece.substr(0, colon));
    p.type = colon == std::string::npos ? "Tensor" : trim(piece.substr(colon + 1));
    params.push_back(std::move(p));
  }
  return params;
}

bool register_op(OpInfo info) {
  registry().push_back(std::move(info));
  return true;
}

const std::vector<OpInfo>& registered_ops() {
  return registry();
}

size_t op_index(const std::string& name) {
  const auto& ops = registry();
  for (size_t i = 0; i < ops.size(); ++i) {
    if (ops[i].python_name == name || ops[i].class_name == name) return i;
  }
  throw ArgumentError("no op named '" + name + "'");
}

const OpInfo& find_op(const std::string& name) {
  return registry()[op_index(name)];
}

const OpValue& OpArgs::get(const char* name) const {
  for (size_t i = 0; i < params_.size(); ++i) {
    if (params_[i].name == name) return values_[i];
  }
  throw ArgumentError(std::string("missing argument '") + name + "'");
}

template <class T>
static const T& expect(const OpValue& v, const char* name, const char* what) {
  if (const T* p = std::get_if<T>(&v)) return *p;
  throw ArgumentError(std::string("argument '") + name + "' must be " + what);
}

const Tensor& OpArgs::tensor(const char* name) const {
  return expect<Tensor>(get(name), name, "a Tensor");
}

std::optional<Tensor> OpArgs::optional_tensor(const char* name) const {
  const OpValue& v = get(name);
  if (std::holds_alternative<std::monostate>(v)) return std::nullopt;
  return expect<Tensor>(v, name, "a Tensor or None");
}

int64_t OpArgs::integer(const char* name) const {
  return expect<int64_t>(get(name), name, "an int");
}

double OpArgs::number(const char* name) const {
  const OpValue& v = get(name);
  if (const int64_t* i = std::get_if<int64_t>(&v)) return static_cast<double>(*i);
  return expect<double>(v, name, "a float");
}

bool OpArgs::boolean(const char* name) const {
  return expect<bool>(get(name), name, "a bool");
}

const std::string& OpArgs::string(const char* name) const {
  return expect<std::string>(get(name), name, "a str");
}

const std::vector<int64_t>& OpArgs::ints(const char* name) const {
  return expect<std::vector<int64_t>>(get(name), name, "a sequence of ints");
}

}  // namespace metallic
