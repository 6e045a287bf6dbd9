// ResourceCache: the GraphExecutableCache and the MaskArena of one context.
#include "metallic/resource_cache.hpp"

#include <cstdlib>
#include <limits>
#include <vector>

#include "core/float16.hpp"
#include "metallic/context.hpp"
#include "metallic/error.hpp"

namespace metallic {

namespace {

constexpr size_t kDefaultExecutableCapacity = 64;

size_t executable_capacity_from_env() {
  const char* v = std::getenv("METALLIC_GRAPH_CACHE_CAPACITY");
  if (!v || !*v) return kDefaultExecutableCapacity;
  char* end = nullptr;
  const long long n = std::strtoll(v, &end, 10);
  if (*end || n < 1) {
    throw ArgumentError(std::string("METALLIC_GRAPH_CACHE_CAPACITY must be a positive number of "
                                    "compiled graphs, got '") +
                        v + "'");
  }
  return static_cast<size_t>(n);
}

/// The 16-bit pattern of `value` in `dtype` (f16 or bf16).
uint16_t half_bits(DType dtype, float value) {
  return dtype == DType::F16 ? float_to_f16(value) : float_to_bf16(value);
}

/// The bytes of an additive causal mask [q_len, kv_len] in `dtype`.
std::vector<uint8_t> causal_mask_bytes(int64_t q_len, int64_t kv_len, DType dtype) {
  const size_t size = dtype_size(dtype);
  std::vector<uint8_t> bytes(static_cast<size_t>(q_len * kv_len) * size);
  const float inf = std::numeric_limits<float>::infinity();
  for (int64_t i = 0; i < q_len; ++i) {
    for (int64_t j = 0; j < kv_len; ++j) {
      const float value = j > i + kv_len - q_len ? -inf : 0.0f;
      uint8_t* dst = bytes.data() + static_cast<size_t>(i * kv_len + j) * size;
      if (dtype == DType::F32) {
        std::memcpy(dst, &value, 4);
      } else {
        const uint16_t bits = half_bits(dtype, value);
        std::memcpy(dst, &bits, 2);
      }
    }
  }
  return bytes;
}

}  // namespace

Tensor MaskArena::get_or_create(Context& ctx, const Key& key) {
  if (!dtype_is_float(key.dtype)) {
    throw DTypeError(std::string("mask arena: masks are f32, f16 or bf16, not ") +
                     dtype_name(key.dtype));
  }
  if (key.q_len < 0 || key.kv_len < 0) throw ShapeError("mask arena: negative mask size");
  const Shape shape{key.q_len, key.kv_len};
  const BufferPtr& buffer = masks_.get_or_create(key, [&] {
    const std::vector<uint8_t> bytes = causal_mask_bytes(key.q_len, key.kv_len, key.dtype);
    BufferPtr b = ctx.device().allocate(std::max<size_t>(bytes.size(), 1));
    if (!bytes.empty()) std::memcpy(b->contents(), bytes.data(), bytes.size());
    return b;
  });
  auto storage = std::make_shared<TensorStorage>();
  storage->context = ctx.shared_from_this();
  storage->buffer = buffer;
  return Tensor(std::move(storage), key.dtype, shape, contiguous_strides(shape), 0);
}

ResourceCache::ResourceCache(size_t executable_capacity)
    : executables_(executable_capacity ? executable_capacity : executable_capacity_from_env()),
      masks_(kMaskCapacity) {}

GraphExecutablePtr ResourceCache::get_or_create_mpsgraph_executable(Device& device,
                                                                    const GraphKernelKey& key) {
  return executables_.get_or_create(key,
                                    [&] { return device.compile_graph(key.kernel->build(key)); });
}

Tensor ResourceCache::get_or_create_mpsgraph_mask(Context& ctx, MaskKind kind, int64_t q_len,
                                                  int64_t kv_len, DType dtype) {
  return masks_.get_or_create(ctx, {kind, q_len, kv_len, dtype});
}

void ResourceCache::set_executable_capacity(size_t capacity) {
  if (capacity < 1) throw ArgumentError("the graph cache's capacity must be at least 1");
  executables_.set_capacity(capacity);
}

}  // namespace metallic
