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

Shape contiguous_strides(const Shape& shape) {
  Shape strides(shape.size());
  int64_t s = 1;
  for (size_t i = shape.size(); i-- > 0;) {
    strides[i] = s;
    s *= shape[i];
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
  int64_t known = 1, infer = -1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1) {
      if (infer >= 0) throw ShapeError("reshape: only one dimension may be -1");
      infer = static_cast<int64_t>(i);
    } else if (shape[i] < 0) {
      throw ShapeError("reshape: negative dimension in " + shape_str(shape));
    } else {
      known *= shape[i];
    }
  }
  if (infer >= 0) {
    if (known == 0 || numel() % known != 0) {
      throw ShapeError("cannot reshape a tensor of shape " + shape_str(shape_) + " to " +
                       shape_str(shape));
    }
    shape[static_cast<size_t>(infer)] = numel() / known;
  }
  Tensor t = *this;
  if (t.numel() != (infer >= 0 ? numel() : known)) {
    throw ShapeError("cannot reshape a tensor of shape " + shape_str(shape_) + " (" +
                     std::to_string(numel()) + " elements) to " + shape_str(shape));
  }
  t.strides_ = contiguous_strides(shape);
  t.shape_ = std::move(shape);
  return t;
}

Tensor Tensor::slice(int64_t start, int64_t stop) const {
  if (shape_.empty()) throw ShapeError("cannot slice a 0-dimensional tensor");
  const int64_t n = shape_[0];
  if (start < 0) start += n;
  if (stop < 0) stop += n;
  if (start < 0 || stop > n || start > stop) {
    throw ShapeError("slice [" + std::to_string(start) + ", " + std::to_string(stop) +
                     ") is out of range for outer dimension " + std::to_string(n));
  }
  Tensor t = *this;
  t.shape_[0] = stop - start;
  t.offset_ += static_cast<size_t>(start * strides_[0]) * dtype_size(dtype_);
  return t;
}

Tensor Tensor::select(int64_t i) const {
  Tensor t = slice(i < 0 ? i + dim(0) : i, (i < 0 ? i + dim(0) : i) + 1);
  t.shape_.erase_at(0);
  t.strides_.erase_at(0);
  return t;
}

Tensor Tensor::transpose(int64_t d0, int64_t d1) const {
  const int64_t n = static_cast<int64_t>(shape_.size());
  dim(d0);  // range checks
  dim(d1);
  const auto i = static_cast<size_t>(d0 < 0 ? d0 + n : d0);
  const auto j = static_cast<size_t>(d1 < 0 ? d1 + n : d1);
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
