// Element types of tensors and their properties.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace metallic {

/// Q8_0 and Q4_0 are GGUF's block-quantized formats: blocks of 32 elements along the last
/// dimension (an f16 scale + 32 int8, 34 bytes; an f16 scale + 16 bytes of nibbles, 18 bytes).
/// A quantized tensor's shape counts elements; its last dimension is a multiple of 32.
enum class DType : uint8_t { F32, F16, BF16, I32, U32, I8, U8, I64, Q8_0, Q4_0 };
/// Number of DType values (keep in step with the enum).
constexpr size_t kDTypeCount = 10;

/// Elements per storage unit: 32 for the block-quantized types, else 1.
constexpr size_t dtype_block_elements(DType t) {
  return t == DType::Q8_0 || t == DType::Q4_0 ? 32 : 1;
}

constexpr bool dtype_is_quantized(DType t) {
  return dtype_block_elements(t) > 1;
}

/// Size of one element in bytes (of one block of dtype_block_elements for quantized types).
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
    case DType::Q8_0:
      return 34;
    case DType::Q4_0:
      return 18;
  }
  return 0;
}

/// Bytes that `elements` elements of `t` occupy (whole blocks for quantized types).
constexpr size_t dtype_nbytes(DType t, size_t elements) {
  const size_t block = dtype_block_elements(t);
  return (elements + block - 1) / block * dtype_size(t);
}

/// Canonical short name, as used by Python and in error messages ("f32", "f16", ...).
const char* dtype_name(DType t);

/// Parses a canonical name or a numpy-style alias ("float32", "half", ...); throws DTypeError.
DType parse_dtype(const std::string& name);

constexpr bool dtype_is_float(DType t) {
  return t == DType::F32 || t == DType::F16 || t == DType::BF16;
}

}  // namespace metallic
