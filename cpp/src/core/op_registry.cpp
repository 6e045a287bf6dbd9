#include "metallic/op_registry.hpp"

#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace metallic {

namespace {

std::vector<OpInfo>& registry() {
  static std::vector<OpInfo> ops;
  return ops;
}

const char* kind_annotation(ParamKind kind) {
  switch (kind) {
    case ParamKind::Tensor:
      return "Tensor";
    case ParamKind::TensorList:
      return "Sequence[Tensor]";
    case ParamKind::TensorOrScalar:
      return "Tensor | float";
    case ParamKind::Bool:
      return "bool";
    case ParamKind::Int:
      return "int";
    case ParamKind::Float:
      return "float";
    case ParamKind::Str:
      return "str";
    case ParamKind::Ints:
      return "int | Sequence[int]";
    case ParamKind::DType:
      return "DTypeLike";
  }
  return "Any";
}

}  // namespace

std::string OpParam::python_type() const {
  std::string type;
  if (kind == ParamKind::Str && !choices.empty()) {
    type = "Literal[";
    for (size_t i = 0; i < choices.size(); ++i) {
      type += (i ? ", " : "") + op_decl::string_literal(choices[i]);
    }
    type += "]";
  } else {
    type = kind_annotation(kind);
  }
  return optional ? type + " | None" : type;
}

bool OpInfo::needs_context() const {
  for (const auto& p : params) {
    if (p.kind == ParamKind::Tensor || p.kind == ParamKind::TensorList ||
        p.kind == ParamKind::TensorOrScalar) {
      return false;
    }
  }
  return true;
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

namespace op_decl {

std::string float_literal(double v) {
  if (std::isinf(v)) return v > 0 ? "float('inf')" : "-float('inf')";
  if (std::isnan(v)) return "float('nan')";
  char buf[32];
  // The shortest form that reads back exactly, with a decimal point so it reads as a float.
  for (int precision = 1; precision <= 17; ++precision) {
    std::snprintf(buf, sizeof buf, "%.*g", precision, v);
    if (std::strtod(buf, nullptr) == v) break;
  }
  std::string s = buf;
  if (s.find_first_of(".en") == std::string::npos) s += ".0";
  return s;
}

std::string string_literal(const std::string& v) {
  std::string s = "\"";
  for (char c : v) {
    if (c == '"' || c == '\\') s += '\\';
    s += c;
  }
  return s + "\"";
}

std::string FieldType<std::vector<int64_t>>::literal(const std::vector<int64_t>& v) {
  std::string s = "(";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::to_string(v[i]);
  return s + (v.size() == 1 ? ",)" : ")");
}

std::string FieldType<TensorOrScalar>::literal(const TensorOrScalar& v) {
  if (const double* d = std::get_if<double>(&v)) return float_literal(*d);
  return "None";
}

}  // namespace op_decl

}  // namespace metallic
