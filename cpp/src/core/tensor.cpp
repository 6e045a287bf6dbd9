#include "metallic/tensor.hpp"

#include <cstring>
#include <sstream>
#include <string>
#include <vector>

#include "metallic/context.hpp"
#include "metallic/error.hpp"

namespace metallic {

TensorStorage::~TensorStorage() {
  if (pooled && buffer) context->pool().release(std::move(buffer), last_use);
}

int64_t checked_numel(const Shape& shape, size_t element_size) {
  int64_t numel = 1;
  bool overflow = false;
  for (int64_t d : shape) {
    if (d < 0) throw ShapeError("negative dimension in shape " + shape_str(shape));
    if (d == 0) return 0;  // empty, however large the other dimensions
  }
  for (int64_t d : shape) overflow |= __builtin_mul_overflow(numel, d, &numel);
  int64_t bytes = 0;
  overflow |= __builtin_mul_overflow(numel, static_cast<int64_t>(element_size), &bytes);
  if (overflow) {
    throw ShapeError("shape " + shape_str(shape) + " has more than 2^63 bytes of " +
                     std::to_string(element_size) + "-byte elements: no device can hold it");
  }
  return numel;
}

void check_block_shape(DType dtype, const Shape& shape) {
  const size_t block = dtype_block_elements(dtype);
  if (block == 1) return;
  if (shape.empty() || shape.back() % static_cast<int64_t>(block) != 0) {
    throw ShapeError(std::string("a ") + dtype_name(dtype) + " tensor's last dimension must be " +
                     "a multiple of " + std::to_string(block) + " (its block size); got shape " +
                     shape_str(shape));
  }
}

Shape contiguous_strides(const Shape& shape) {
  Shape strides(shape.size());
  uint64_t s = 1;  // unsigned: an empty shape's product may wrap (its strides are never used)
  for (size_t i = shape.size(); i-- > 0;) {
    strides[i] = static_cast<int64_t>(s);
    s *= static_cast<uint64_t>(shape[i]);
  }
  return strides;
}

std::string shape_str(const Shape& shape) {
  std::ostringstream os;
  os << '[';
  for (size_t i = 0; i < shape.size(); ++i) os << (i ? ", " : "") << shape[i];
  os << ']';
  return os.str();
}

Tensor::Tensor(std::shared_ptr<TensorStorage> storage, DType dtype, Shape shape, Shape strides,
               size_t offset_bytes)
    : storage_(std::move(storage)),
      dtype_(dtype),
      shape_(std::move(shape)),
      strides_(std::move(strides)),
      offset_(offset_bytes) {}

int64_t Tensor::dim(int64_t i) const {
  const int64_t n = static_cast<int64_t>(shape_.size());
  if (i < -n || i >= n) {
    throw ShapeError("dimension " + std::to_string(i) + " is out of range for a tensor of shape " +
                     shape_str(shape_));
  }
  return shape_[static_cast<size_t>(i < 0 ? i + n : i)];
}

int64_t Tensor::numel() const {
  int64_t n = 1;
  for (int64_t d : shape_) n *= d;
  return n;
}

bool Tensor::is_contiguous() const {
  int64_t expected = 1;
  for (size_t i = shape_.size(); i-- > 0;) {
    if (shape_[i] != 1 && strides_[i] != expected) return false;
    expected *= shape_[i];
  }
  return true;
}

Context& Tensor::context() const {
  if (!storage_) throw MetallicError("the tensor is undefined");
  return *storage_->context;
}

const BufferPtr& Tensor::buffer() const {
  if (!storage_) throw MetallicError("the tensor is undefined");
  return storage_->buffer;
}

Tensor Tensor::reshape(Shape shape) const {
  if (!is_contiguous()) {
    throw ShapeError("reshape needs a contiguous tensor; this one has shape " + shape_str(shape_) +
                     " and strides " + shape_str(strides_) + " (call .contiguous() first)");
  }
  Shape known_dims;
  int64_t infer = -1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1) {
      if (infer >= 0) throw ShapeError("reshape: only one dimension may be -1");
      infer = static_cast<int64_t>(i);
    } else if (shape[i] < 0) {
      throw ShapeError("reshape: negative dimension in " + shape_str(shape));
    } else {
      known_dims.push_back(shape[i]);
    }
  }
  const int64_t known = checked_numel(known_dims, dtype_size(dtype_));
  const bool fits = infer >= 0 ? known != 0 && numel() % known == 0 : known == numel();
  if (!fits) {
    throw ShapeError("cannot reshape a tensor of shape " + shape_str(shape_) + " (" +
                     std::to_string(numel()) + " elements) to " + shape_str(shape));
  }
  if (infer >= 0) shape[static_cast<size_t>(infer)] = numel() / known;
  check_block_shape(dtype_, shape);
  Tensor t = *this;
  t.strides_ = contiguous_strides(shape);
  t.shape_ = std::move(shape);
  return t;
}

Tensor Tensor::slice(int64_t start, int64_t stop) const {
  if (shape_.empty()) throw IndexError("cannot slice a 0-dimensional tensor");
  const int64_t n = shape_[0];
  if (start < 0) start += n;
  if (stop < 0) stop += n;
  if (start < 0 || stop > n || start > stop) {
    throw IndexError("slice [" + std::to_string(start) + ", " + std::to_string(stop) +
                     ") is out of range for outer dimension " + std::to_string(n));
  }
  const auto skipped = static_cast<size_t>(start * strides_[0]);
  if (skipped % dtype_block_elements(dtype_) != 0) {
    throw ShapeError(std::string("cannot slice a ") + dtype_name(dtype_) +
                     " tensor inside a block of " + std::to_string(dtype_block_elements(dtype_)) +
                     " elements");
  }
  Tensor t = *this;
  t.shape_[0] = stop - start;
  t.offset_ += dtype_nbytes(dtype_, skipped);
  return t;
}

Tensor Tensor::strided_slice(int64_t dim, int64_t start, int64_t count, int64_t step) const {
  const size_t d = axis(dim);
  const int64_t n = shape_[d];
  const int64_t last = start + (count > 0 ? (count - 1) * step : 0);
  if (count < 0 || step == 0 || (count > 0 && (start < 0 || start >= n || last < 0 || last >= n))) {
    throw IndexError("slice from " + std::to_string(start) + " of " + std::to_string(count) +
                     " entries in steps of " + std::to_string(step) +
                     " is out of range for dimension " + std::to_string(dim) + " of size " +
                     std::to_string(n));
  }
  const auto block = static_cast<int64_t>(dtype_block_elements(dtype_));
  if (block > 1 && d + 1 == shape_.size() && (step != 1 || count % block != 0)) {
    throw ShapeError(std::string("a slice of a ") + dtype_name(dtype_) +
                     " tensor's last dimension must take whole blocks of " + std::to_string(block) +
                     " elements in steps of 1");
  }
  Tensor t = *this;
  if (count > 0) t.move_offset(start * strides_[d]);
  t.shape_[d] = count;
  t.strides_[d] = strides_[d] * step;
  return t;
}

Tensor Tensor::select(int64_t i) const {
  if (shape_.empty()) throw IndexError("cannot index a 0-dimensional tensor");
  return select(0, i);
}

Tensor Tensor::select(int64_t dim, int64_t i) const {
  const size_t d = axis(dim);
  const int64_t n = shape_[d];
  if (i < -n || i >= n) {
    throw IndexError("index " + std::to_string(i) + " is out of range for dimension " +
                     std::to_string(dim) + " of size " + std::to_string(n));
  }
  Tensor t = *this;
  t.move_offset((i < 0 ? i + n : i) * strides_[d]);
  t.shape_.erase_at(d);
  t.strides_.erase_at(d);
  return t;
}

Tensor Tensor::unsqueeze(int64_t dim) const {
  const int64_t n = static_cast<int64_t>(shape_.size());
  if (dim < 0 || dim > n) {
    throw ShapeError("unsqueeze: dimension " + std::to_string(dim) + " is not in 0.." +
                     std::to_string(n));
  }
  const auto d = static_cast<size_t>(dim);
  // The stride a size-1 dimension has in a contiguous tensor: it keeps contiguous views so.
  const int64_t stride = d < shape_.size() ? shape_[d] * strides_[d] : 1;
  Shape shape, strides;
  for (size_t i = 0; i <= shape_.size(); ++i) {
    if (i == d) {
      shape.push_back(1);
      strides.push_back(stride);
    }
    if (i < shape_.size()) {
      shape.push_back(shape_[i]);
      strides.push_back(strides_[i]);
    }
  }
  Tensor t = *this;
  t.shape_ = shape;
  t.strides_ = strides;
  return t;
}

Tensor Tensor::transpose(int64_t d0, int64_t d1) const {
  const size_t i = axis(d0), j = axis(d1);
  Tensor t = *this;
  std::swap(t.shape_[i], t.shape_[j]);
  std::swap(t.strides_[i], t.strides_[j]);
  return t;
}

Tensor Tensor::permute(const std::vector<int64_t>& axes) const {
  const int64_t n = static_cast<int64_t>(shape_.size());
  std::vector<bool> seen(shape_.size(), false);
  Tensor t = *this;
  bool valid = static_cast<int64_t>(axes.size()) == n;
  for (size_t i = 0; valid && i < axes.size(); ++i) {
    const int64_t a = axes[i] < 0 ? axes[i] + n : axes[i];
    valid = a >= 0 && a < n && !seen[static_cast<size_t>(a)];
    if (!valid) break;
    seen[static_cast<size_t>(a)] = true;
    t.shape_[i] = shape_[static_cast<size_t>(a)];
    t.strides_[i] = strides_[static_cast<size_t>(a)];
  }
  if (!valid) {
    std::string list;
    for (size_t i = 0; i < axes.size(); ++i) list += (i ? ", " : "") + std::to_string(axes[i]);
    throw ShapeError("axes [" + list + "] are not a permutation of the " + std::to_string(n) +
                     " dimensions of a tensor of shape " + shape_str(shape_) +
                     " (name each of 0.." + std::to_string(n - 1) + " once)");
  }
  return t;
}

size_t Tensor::axis(int64_t d) const {
  dim(d);  // range check
  const int64_t n = static_cast<int64_t>(shape_.size());
  return static_cast<size_t>(d < 0 ? d + n : d);
}

void Tensor::move_offset(int64_t elements) {
  const auto block = static_cast<int64_t>(dtype_block_elements(dtype_));
  if (elements % block != 0) {
    throw ShapeError(std::string("cannot index a ") + dtype_name(dtype_) +
                     " tensor inside a block of " + std::to_string(block) + " elements");
  }
  // Quantized dtypes: dtype_size is the bytes of one block.
  offset_ = static_cast<size_t>(static_cast<int64_t>(offset_) +
                                elements / block * static_cast<int64_t>(dtype_size(dtype_)));
}

const void* Tensor::data_for_read() const {
  // A read waits for the last command that uses the storage (it may write it).
  context().wait_for(storage_->last_use);
  return static_cast<const char*>(buffer()->contents()) + offset_;
}

void* Tensor::data_for_write() const {
  context().wait_for(storage_->last_use);
  return static_cast<char*>(buffer()->contents()) + offset_;
}

void Tensor::copy_from_host(const void* data, size_t nbytes) const {
  if (!is_contiguous())
    throw ShapeError("copy_from_host needs a contiguous tensor (call .contiguous() first)");
  if (nbytes != this->nbytes()) {
    throw ShapeError("copy_from_host: got " + std::to_string(nbytes) + " bytes for a tensor of " +
                     std::to_string(this->nbytes()) + " bytes");
  }
  if (nbytes) std::memcpy(data_for_write(), data, nbytes);
}

std::string Tensor::describe() const {
  if (!storage_) return "Tensor(undefined)";
  return "Tensor(shape=" + shape_str(shape_) + ", dtype=" + dtype_name(dtype_) +
         ", device=" + (context().device().kind() == DeviceKind::Host ? "host" : "metal") + ")";
}

}  // namespace metallic
