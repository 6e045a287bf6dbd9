// Broadcast shapes and collapsed layouts for the broadcasting kernels (see broadcast_layout.hpp).
#include "broadcast_layout.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "../core/float16.hpp"
#include "metallic/error.hpp"
#include "strided_layout.hpp"

namespace metallic {

Shape broadcast_shape(const char* op, std::initializer_list<BroadcastOperand> operands) {
  size_t rank = 0;
  for (const auto& o : operands) {
    if (o.tensor) rank = std::max(rank, o.tensor->ndim());
  }
  Shape out(rank, 1);
  for (const auto& o : operands) {
    if (!o.tensor) continue;
    const Shape& s = o.tensor->shape();
    for (size_t i = 0; i < s.size(); ++i) {
      int64_t& d = out[rank - s.size() + i];
      if (s[i] == d || s[i] == 1) continue;
      if (d != 1) {
        std::string shapes;
        for (const auto& p : operands) {
          if (!p.tensor) continue;
          shapes += (shapes.empty() ? "" : ", ") + std::string(p.name) + " " +
                    shape_str(p.tensor->shape());
        }
        throw ShapeError(std::string(op) + ": shapes do not broadcast (" + shapes +
                         "): each dimension, aligned from the right, must be equal or 1");
      }
      d = s[i];
    }
  }
  return out;
}

BroadcastParams broadcast_params(const char* op, const Shape& out,
                                 std::initializer_list<BroadcastOperand> operands) {
  constexpr int64_t kMax = std::numeric_limits<uint32_t>::max();
  const size_t rank = out.size();
  // Strides aligned to the output's dimensions, 0 where an operand broadcasts; the element each
  // operand's offsets start from (its forward binding's base).
  std::vector<Shape> strides;
  uint32_t bases[3] = {0, 0, 0};
  for (const auto& o : operands) {
    Shape s(rank, 0);
    if (o.tensor) {
      const Tensor& t = *o.tensor;
      for (size_t i = 0; i < t.ndim(); ++i) {
        if (t.shape()[i] != 1) s[rank - t.ndim() + i] = t.strides()[i];
      }
      bases[strides.size()] = forward_binding(op, o.name, t).base;
    }
    strides.push_back(s);
  }
  int64_t n = 1;
  for (int64_t d : out) n *= d;
  if (n > kMax) throw ShapeError(std::string(op) + ": more than 2^32-1 output elements");

  const CollapsedDims dims = collapse_dims(out, strides);
  BroadcastParams p{};
  p.n = static_cast<uint32_t>(n);
  p.ndim = static_cast<uint32_t>(dims.shape.size());
  p.inner = static_cast<uint32_t>(dims.shape.back());
  p.a_base = bases[0];
  p.b_base = bases[1];
  p.c_base = bases[2];
  uint32_t* dst[3] = {p.a_strides, p.b_strides, p.c_strides};
  for (size_t d = 0; d < dims.shape.size(); ++d) {
    p.shape[d] = static_cast<uint32_t>(dims.shape[d]);
    for (size_t k = 0; k < strides.size(); ++k) {
      dst[k][d] = static_cast<uint32_t>(dims.strides[k][d]);
    }
  }
  return p;
}

void dispatch_broadcast(ComputeKernelEncoder& e, uint32_t n, uint32_t inner) {
  if (n == 0) return;
  const uint32_t runs = (inner + METALLIC_BROADCAST_RUN - 1) / METALLIC_BROADCAST_RUN;
  const uint32_t rows = n / inner;
  uint32_t tx = 1;
  while (tx < runs && tx < 256) tx *= 2;
  e.dispatch_threads({runs, rows, 1}, {tx, std::min<uint32_t>(256 / tx, rows), 1});
}

ScalarBytes scalar_bytes(const char* op, const char* arg, double value, DType dtype) {
  ScalarBytes s;
  s.size = dtype_size(dtype);
  auto integer = [&](double lo, double hi) {
    if (!(value >= lo && value <= hi) || std::trunc(value) != value) {
      throw DTypeError(std::string(op) + ": scalar " + arg + " = " + op_decl::float_literal(value) +
                       " is not a " + dtype_name(dtype) +
                       " value; pass an integer in range, or convert the tensor to a float dtype");
    }
  };
  switch (dtype) {
    case DType::F32: {
      const auto f = static_cast<float>(value);
      std::memcpy(s.bytes, &f, 4);
      break;
    }
    case DType::F16: {
      const uint16_t h = float_to_f16(static_cast<float>(value));
      std::memcpy(s.bytes, &h, 2);
      break;
    }
    case DType::BF16: {
      const uint16_t h = float_to_bf16(static_cast<float>(value));
      std::memcpy(s.bytes, &h, 2);
      break;
    }
    case DType::I32: {
      integer(-2147483648.0, 2147483647.0);
      const auto v = static_cast<int32_t>(value);
      std::memcpy(s.bytes, &v, 4);
      break;
    }
    case DType::U32: {
      integer(0.0, 4294967295.0);
      const auto v = static_cast<uint32_t>(value);
      std::memcpy(s.bytes, &v, 4);
      break;
    }
    case DType::I8:
      integer(-128.0, 127.0);
      s.bytes[0] = static_cast<uint8_t>(static_cast<int8_t>(value));
      break;
    case DType::U8:
      integer(0.0, 255.0);
      s.bytes[0] = static_cast<uint8_t>(value);
      break;
    case DType::I64:
      throw DTypeError(std::string(op) + ": i64 operands are not supported");
  }
  return s;
}

void bind_operand(ComputeKernelEncoder& e, uint32_t index, const char* op, const char* arg,
                  const TensorOrScalar& v, DType dtype) {
  if (const Tensor* t = tensor_of(v)) {
    e.buffer(index, forward_binding(op, arg, *t).tensor);
  } else {
    const ScalarBytes s = scalar_bytes(op, arg, std::get<double>(v), dtype);
    e.bytes(index, s.bytes, s.size);
  }
}

}  // namespace metallic
