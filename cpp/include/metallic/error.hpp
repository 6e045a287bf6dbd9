// The exception hierarchy; the Python module maps each class to metallic.<Name>.
#pragma once

#include <stdexcept>
#include <string>

namespace metallic {

/// Root of every error metallic raises on purpose.
class MetallicError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Shapes that do not fit the operation (Python: also a ValueError).
class ShapeError : public MetallicError {
 public:
  using MetallicError::MetallicError;
};

/// An index out of a tensor's range (Python: also an IndexError, so iteration stops on it).
class IndexError : public ShapeError {
 public:
  using ShapeError::ShapeError;
};

/// Element types that do not fit the operation (Python: also a TypeError).
class DTypeError : public MetallicError {
 public:
  using MetallicError::MetallicError;
};

/// Any other invalid argument to an operation (Python: also a ValueError).
class ArgumentError : public MetallicError {
 public:
  using MetallicError::MetallicError;
};

/// A kernel source that does not translate or compile; the message names the .metal file and line.
class KernelCompileError : public MetallicError {
 public:
  using MetallicError::MetallicError;
};

/// The device failed: a command buffer error, a kernel fault caught by host checks, a missing
/// device.
class DeviceError : public MetallicError {
 public:
  using MetallicError::MetallicError;
};

}  // namespace metallic
