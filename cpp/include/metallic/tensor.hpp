// Tensor: a typed, shaped view of a device buffer. Views share storage; nothing copies implicitly.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "metallic/device.hpp"
#include "metallic/dtype.hpp"
#include "metallic/shape.hpp"

namespace metallic {

class Context;

/// Where a tensor's memory comes from.
enum class StorageKind {
  Pooled,     // from the context's buffer pool, returned to it when the last view is released
  Dedicated,  // a buffer of its own, freed with the last view
};

/// How a new tensor's memory is initialised.
struct TensorInit {
  enum class Kind { Uninitialized, Zeros, CopyFrom };
  Kind kind = Kind::Uninitialized;
  const void* data = nullptr;  // CopyFrom: nbytes of contiguous host data

  static TensorInit uninitialized() { return {Kind::Uninitialized, nullptr}; }
  static TensorInit zeros() { return {Kind::Zeros, nullptr}; }
  static TensorInit copy_from(const void* data) { return {Kind::CopyFrom, data}; }
};

/// The buffer behind one or more tensor views, and what the lazy scheduler knows about its use.
struct TensorStorage {
  std::shared_ptr<Context> context;
  BufferPtr buffer;
  bool pooled = false;
  /// Sequence number of the last command buffer that uses this storage (0: none).
  uint64_t last_use = 0;

  ~TensorStorage();
};

class Tensor {
 public:
  Tensor() = default;
  Tensor(std::shared_ptr<TensorStorage> storage, DType dtype, Shape shape, Shape strides,
         size_t offset_bytes);

  bool defined() const { return storage_ != nullptr; }
  DType dtype() const { return dtype_; }
  const Shape& shape() const { return shape_; }
  /// Strides in elements.
  const Shape& strides() const { return strides_; }
  size_t ndim() const { return shape_.size(); }
  /// Size of dimension `i`; negative counts from the end.
  int64_t dim(int64_t i) const;
  int64_t numel() const;
  size_t nbytes() const { return dtype_nbytes(dtype_, static_cast<size_t>(numel())); }
  size_t offset_bytes() const { return offset_; }
  bool is_contiguous() const;

  Context& context() const;
  const std::shared_ptr<TensorStorage>& storage() const { return storage_; }
  const BufferPtr& buffer() const;

  /// A view with a new shape (one dimension may be -1); the tensor must be contiguous.
  Tensor reshape(Shape shape) const;
  /// A view of rows [start, stop) of the outermost dimension.
  Tensor slice(int64_t start, int64_t stop) const;
  /// A view of `count` entries of dimension `dim` from `start` in steps of `step` (negative:
  /// backwards), as a normalised Python slice; throws IndexError if an entry is out of range.
  Tensor strided_slice(int64_t dim, int64_t start, int64_t count, int64_t step) const;
  /// A view of entry `i` of the outermost dimension (one dimension fewer).
  Tensor select(int64_t i) const;
  /// A view of entry `i` (negative counts from the end) of dimension `dim`, which it removes.
  Tensor select(int64_t dim, int64_t i) const;
  /// A view with a new dimension of size 1 before dimension `dim` (0..ndim).
  Tensor unsqueeze(int64_t dim) const;
  /// A view with dimensions d0 and d1 swapped (no copy; usually not contiguous).
  Tensor transpose(int64_t d0, int64_t d1) const;
  /// A view whose dimension i is dimension axes[i] of this one (each axis once; negative counts
  /// from the end). No copy; usually not contiguous.
  Tensor permute(const std::vector<int64_t>& axes) const;

  /// Host pointer to the first element after all pending writes to it have completed.
  const void* data_for_read() const;
  /// Host pointer to the first element after all pending uses of it have completed.
  void* data_for_write() const;
  /// Copies contiguous host data into this (contiguous) tensor.
  void copy_from_host(const void* data, size_t nbytes) const;

  /// "Tensor(shape=[2, 3], dtype=f32, device=host)".
  std::string describe() const;

 private:
  /// Dimension `d` (negative counts from the end) as an index; throws ShapeError if out of range.
  size_t axis(int64_t d) const;
  /// Moves the view's start by `elements` (may be negative: views with negative strides).
  void move_offset(int64_t elements);

  std::shared_ptr<TensorStorage> storage_;
  DType dtype_ = DType::F32;
  Shape shape_;
  Shape strides_;
  size_t offset_ = 0;
};

/// The number of elements of `shape`; throws ShapeError if a dimension is negative or the
/// product of `shape` and `element_size` bytes overflows 63 bits.
int64_t checked_numel(const Shape& shape, size_t element_size);
/// Throws ShapeError unless `shape` holds whole blocks of a block-quantized `dtype` along its
/// last dimension (no-op for other dtypes).
void check_block_shape(DType dtype, const Shape& shape);
/// Contiguous (row-major) strides for `shape`.
Shape contiguous_strides(const Shape& shape);
/// "[2, 3, 4]".
std::string shape_str(const Shape& shape);

}  // namespace metallic
