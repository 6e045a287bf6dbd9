#include "metallic/dtype.hpp"

#include "metallic/error.hpp"

namespace metallic {

const char* dtype_name(DType t) {
  switch (t) {
    case DType::F32:
      return "f32";
    case DType::F16:
      return "f16";
    case DType::BF16:
      return "bf16";
    case DType::I32:
      return "i32";
    case DType::U32:
      return "u32";
    case DType::I8:
      return "i8";
    case DType::U8:
      return "u8";
    case DType::I64:
      return "i64";
    case DType::Q8_0:
      return "q8_0";
    case DType::Q4_0:
      return "q4_0";
  }
  return "?";
}

DType parse_dtype(const std::string& name) {
  static const std::pair<const char*, DType> kNames[] = {
      {"f32", DType::F32},    {"float32", DType::F32},   {"float", DType::F32},
      {"f16", DType::F16},    {"float16", DType::F16},   {"half", DType::F16},
      {"bf16", DType::BF16},  {"bfloat16", DType::BF16}, {"bfloat", DType::BF16},
      {"i32", DType::I32},    {"int32", DType::I32},     {"u32", DType::U32},
      {"uint32", DType::U32}, {"i8", DType::I8},         {"int8", DType::I8},
      {"u8", DType::U8},      {"uint8", DType::U8},      {"i64", DType::I64},
      {"int64", DType::I64},  {"q8_0", DType::Q8_0},     {"q4_0", DType::Q4_0},
  };
  for (const auto& [n, t] : kNames) {
    if (name == n) return t;
  }
  throw DTypeError("unknown dtype '" + name +
                   "': use one of f32, f16, bf16, i32, u32, i8, u8, i64, q8_0, q4_0");
}

}  // namespace metallic
