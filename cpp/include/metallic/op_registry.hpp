// Each op declares its parameters once: the fields of its `Args` struct give their C++ types and
// defaults, and its METALLIC_REGISTER_OP line names each field with a one-line doc. From that one
// declaration come the generic Python binding (defaults converted once, at registration), the
// `.pyi` stubs and `metallic info`; the compiler checks that every field is named exactly once.
// Ops register from their own src/ops/<family>.cpp, so adding an op edits no central list.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "metallic/context.hpp"
#include "metallic/error.hpp"

namespace metallic {

/// A tensor or a Python number: the operand of ops such as add(a, 2.0).
using TensorOrScalar = std::variant<Tensor, double>;

/// What kind of value a parameter takes; the Python binding converts and checks by it.
enum class ParamKind : uint8_t {
  Tensor,          // Tensor
  TensorList,      // Sequence[Tensor]
  TensorOrScalar,  // Tensor | float
  Bool,            // bool
  Int,             // int
  Float,           // float (an int is accepted)
  Str,             // str (optionally one of `choices`)
  Ints,            // int | Sequence[int] (an int is a sequence of one)
  DType,           // a dtype name ("f16") or anything numpy.dtype() accepts
};

/// One argument value crossing from Python (or any other front end) into an op.
using OpValue = std::variant<std::monostate, Tensor, std::vector<Tensor>, int64_t, double, bool,
                             std::string, std::vector<int64_t>, DType>;

/// What an op returns to a front end: one tensor or several.
using OpResult = std::variant<Tensor, std::vector<Tensor>>;

struct OpParam {
  std::string name;
  ParamKind kind = ParamKind::Tensor;
  bool optional = false;             // None is accepted (std::optional<...> fields)
  bool required = true;              // no default: the caller must pass it
  OpValue default_value;             // when !required: the default, converted once
  std::string default_literal;       // the default as Python source, for stubs and `metallic info`
  std::vector<std::string> choices;  // Str: the accepted values (empty: any)
  std::string doc;

  /// The Python annotation: "Tensor", "float", "Literal['neox', 'gptj']", "int | None", ...
  std::string python_type() const;
};

struct OpInfo {
  std::string python_name;  // mt.ops.<python_name>
  std::string class_name;   // mt.ops.<ClassName>, for ctx.call(mt.ops.ClassName, ...)
  std::vector<OpParam> params;
  bool returns_list = false;  // returns several tensors (a tuple in Python)
  std::string doc;
  /// Runs the op on converted values, one per parameter in order (defaults already applied).
  std::function<OpResult(Context&, std::vector<OpValue>&)> invoke;

  /// True when no parameter is a tensor: the front end supplies the context (`ctx=`).
  bool needs_context() const;
};

/// Adds an op; called from static initialisers in src/ops. Returns true (for the initialiser).
bool register_op(OpInfo info);
const std::vector<OpInfo>& registered_ops();
const OpInfo& find_op(const std::string& python_or_class_name);
/// Position of an op in registered_ops() (stable for the life of the process).
size_t op_index(const std::string& python_or_class_name);

// --- the declaration machinery ----------------------------------------------------------------

namespace op_decl {

/// How a C++ field type maps to a parameter: kind, whether None is accepted, and conversions.
template <class T, class = void>
struct FieldType;

template <>
struct FieldType<Tensor> {
  static constexpr ParamKind kind = ParamKind::Tensor;
  static Tensor from(OpValue& v) { return std::move(std::get<Tensor>(v)); }
  static OpValue to(const Tensor&) { return std::monostate{}; }
  static std::string literal(const Tensor&) { return "None"; }
};
template <>
struct FieldType<std::vector<Tensor>> {
  static constexpr ParamKind kind = ParamKind::TensorList;
  static std::vector<Tensor> from(OpValue& v) {
    return std::move(std::get<std::vector<Tensor>>(v));
  }
  static OpValue to(const std::vector<Tensor>& v) { return v; }
  static std::string literal(const std::vector<Tensor>&) { return "()"; }
};
template <>
struct FieldType<TensorOrScalar> {
  static constexpr ParamKind kind = ParamKind::TensorOrScalar;
  static TensorOrScalar from(OpValue& v) {
    if (Tensor* t = std::get_if<Tensor>(&v)) return std::move(*t);
    return std::get<double>(v);
  }
  static OpValue to(const TensorOrScalar& v) {
    if (const double* d = std::get_if<double>(&v)) return *d;
    return std::monostate{};
  }
  static std::string literal(const TensorOrScalar& v);
};
template <>
struct FieldType<bool> {
  static constexpr ParamKind kind = ParamKind::Bool;
  static bool from(OpValue& v) { return std::get<bool>(v); }
  static OpValue to(bool v) { return v; }
  static std::string literal(bool v) { return v ? "True" : "False"; }
};
template <class T>
struct FieldType<T, std::enable_if_t<std::is_integral_v<T> && !std::is_same_v<T, bool>>> {
  static constexpr ParamKind kind = ParamKind::Int;
  static T from(OpValue& v) { return static_cast<T>(std::get<int64_t>(v)); }
  static OpValue to(T v) { return static_cast<int64_t>(v); }
  static std::string literal(T v) { return std::to_string(v); }
};
std::string float_literal(double v);
template <class T>
struct FieldType<T, std::enable_if_t<std::is_floating_point_v<T>>> {
  static constexpr ParamKind kind = ParamKind::Float;
  static T from(OpValue& v) { return static_cast<T>(std::get<double>(v)); }
  static OpValue to(T v) { return static_cast<double>(v); }
  static std::string literal(T v) { return float_literal(static_cast<double>(v)); }
};
std::string string_literal(const std::string& v);
template <>
struct FieldType<std::string> {
  static constexpr ParamKind kind = ParamKind::Str;
  static std::string from(OpValue& v) { return std::move(std::get<std::string>(v)); }
  static OpValue to(const std::string& v) { return v; }
  static std::string literal(const std::string& v) { return string_literal(v); }
};
template <>
struct FieldType<std::vector<int64_t>> {
  static constexpr ParamKind kind = ParamKind::Ints;
  static std::vector<int64_t> from(OpValue& v) {
    return std::move(std::get<std::vector<int64_t>>(v));
  }
  static OpValue to(const std::vector<int64_t>& v) { return v; }
  static std::string literal(const std::vector<int64_t>& v);
};
template <>
struct FieldType<DType> {
  static constexpr ParamKind kind = ParamKind::DType;
  static DType from(OpValue& v) { return std::get<DType>(v); }
  static OpValue to(DType v) { return v; }
  static std::string literal(DType v) { return string_literal(dtype_name(v)); }
};

/// std::optional<T>: the same kind, and None is accepted (and is the default).
template <class T>
struct Optional : std::false_type {};
template <class T>
struct Optional<std::optional<T>> : std::true_type {
  using value_type = T;
};

/// One declared parameter: a field of Args, its Python name and doc.
template <class Args, class T>
struct Field {
  const char* name;
  T Args::* member;
  const char* doc;
  bool required_scalar = false;
  std::vector<std::string> choice_list;

  /// Only these strings are accepted (a Literal[...] in the stubs).
  Field choices(std::vector<std::string> values) && {
    choice_list = std::move(values);
    return std::move(*this);
  }

  OpParam param() const {
    OpParam p;
    p.name = name;
    p.doc = doc;
    p.choices = choice_list;
    const T fallback = Args{}.*member;
    if constexpr (Optional<T>::value) {
      using V = typename Optional<T>::value_type;
      p.kind = FieldType<V>::kind;
      p.optional = true;
      p.required = required_scalar;
      p.default_value = fallback ? FieldType<V>::to(*fallback) : OpValue{};
      p.default_literal = fallback ? FieldType<V>::literal(*fallback) : "None";
    } else {
      p.kind = FieldType<T>::kind;
      // A tensor, a list of tensors, or a tensor-or-scalar whose default is a (necessarily
      // undefined) tensor has no meaningful default; neither has a field declared with
      // METALLIC_REQUIRED. A tensor-or-scalar defaulting to a number (rope's offset = 0) has one.
      bool undefined_default = p.kind == ParamKind::Tensor || p.kind == ParamKind::TensorList;
      if constexpr (std::is_same_v<T, TensorOrScalar>) {
        undefined_default = std::holds_alternative<Tensor>(fallback);
      }
      p.required = required_scalar || undefined_default;
      if (!p.required) {
        p.default_value = FieldType<T>::to(fallback);
        p.default_literal = FieldType<T>::literal(fallback);
      }
    }
    return p;
  }

  void assign(Args& args, OpValue& v) const {
    if constexpr (Optional<T>::value) {
      using V = typename Optional<T>::value_type;
      if (std::holds_alternative<std::monostate>(v)) {
        args.*member = std::nullopt;
      } else {
        args.*member = FieldType<V>::from(v);
      }
    } else {
      args.*member = FieldType<T>::from(v);
    }
  }
};

/// Counts the fields of an aggregate (up to 24), so a registration that names too few is a
/// compile error. `Any` converts to any field type.
struct Any {
  template <class T>
  operator T() const;  // never defined: only used in unevaluated contexts
};
template <class T, class... A>
constexpr auto braces_constructible(int) -> decltype(T{std::declval<A>()...}, true) {
  return true;
}
template <class T, class... A>
constexpr bool braces_constructible(...) {
  return false;
}
template <class T, class... A>
constexpr size_t field_count() {
  if constexpr (sizeof...(A) > 24) {
    return 0;
  } else if constexpr (braces_constructible<T, A..., Any>(0)) {
    return field_count<T, A..., Any>();
  } else {
    return sizeof...(A);
  }
}

template <class Out>
OpResult to_result(Out&& out) {
  return OpResult(std::forward<Out>(out));
}

template <class Op, class... Fields>
bool register_declared(const char* py_name, const char* class_name, const char* doc,
                       Fields... fields) {
  using Args = typename Op::Args;
  static_assert(field_count<Args>() == sizeof...(Fields),
                "METALLIC_REGISTER_OP must name every field of the op's Args exactly once, "
                "in declaration order");
  OpInfo info;
  info.python_name = py_name;
  info.class_name = class_name;
  info.doc = doc;
  (info.params.push_back(fields.param()), ...);
  using Out = decltype(Op::create(std::declval<Context&>(), std::declval<const Args&>()).second);
  info.returns_list = std::is_same_v<Out, std::vector<Tensor>>;
  info.invoke = [fields = std::make_tuple(std::move(fields)...)](
                    Context& ctx, std::vector<OpValue>& values) -> OpResult {
    Args args{};
    std::apply(
        [&](const auto&... f) {
          size_t i = 0;
          (f.assign(args, values[i++]), ...);
        },
        fields);
    return to_result(ctx.call<Op>(args));
  };
  return register_op(std::move(info));
}

template <class Args, class T>
Field<Args, T> make_field(const char* name, T Args::* member, const char* doc, bool required) {
  return Field<Args, T>{name, member, doc, required, {}};
}

}  // namespace op_decl

}  // namespace metallic

/// Registers `OpType` as mt.ops.<py_name> and mt.ops.<OpType>, with one METALLIC_ARG (or
/// METALLIC_REQUIRED) per field of OpType::Args, in declaration order:
///   METALLIC_REGISTER_OP(RmsNormOp, "rms_norm", "x / rms(x) * weight over the last axis.",
///                        METALLIC_ARG(x, "input [..., N]"), METALLIC_ARG(eps, "..."));
#define METALLIC_REGISTER_OP(OpType, py_name, doc, ...)                                          \
  static const bool metallic_registered_##OpType = [] {                                          \
    using Args [[maybe_unused]] = OpType::Args;                                                  \
    return ::metallic::op_decl::register_declared<OpType>(py_name, #OpType, doc, ##__VA_ARGS__); \
  }()
/// A parameter of the op being registered: field `field` of its Args, with a one-line doc. Its
/// default is the field's default member initialiser; tensors are required.
#define METALLIC_ARG(field, doc) ::metallic::op_decl::make_field(#field, &Args::field, doc, false)
/// A non-tensor parameter without a default (the caller must pass it).
#define METALLIC_REQUIRED(field, doc) \
  ::metallic::op_decl::make_field(#field, &Args::field, doc, true)
