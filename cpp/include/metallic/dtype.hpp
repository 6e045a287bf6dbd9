// Element types of tensors and their properties.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace metallic {

enum class DType : uint8_t { F32, F16, BF16, I32, U32, I8, U8, I64 };
/// Number of DType values (keep in step with the enum).
constexpr size_t kDTypeCount = 8;

/// Size of one element in bytes.
constexpr size_t dtype_size(DType t) {
  switch (t) {
    case DType::F32:
    case DType::I32:
    case DType::U32:
      return 4;
    case DType::F16:
    case DType::BF16:
      return 2;
    case DType::I8:
    case DType::U8:
      return 1;
    case DType::I64:
      return 8;
  }
  return 0;
}

/// Canonical short name, as used by Python and in error messages ("f32", "f16", ...).
const char* dtype_name(DType t);

/// Parses a canonical name or a numpy-style alias ("float32", "half", ...); throws DTypeError.
DType parse_dtype(const std::string& name);

constexpr bool dtype_is_float(DType t) {
  return t == DType::F32 || t == DType::F16 || t == DType::BF16;
}

}  // namespace metallic
