// The Metal device: the part of metallic that runs only on a Mac. This header is plain C++ so
// src/core can include it under METALLIC_HAVE_METAL; the Objective-C++ lives in the .mm files
// beside it (metal_internal.h). See docs/metal-device.md.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "metallic/device.hpp"
#include "metallic/dtype.hpp"

namespace metallic {

/// The system default Metal device with its own command queue; throws DeviceError without one.
std::unique_ptr<Device> create_metal_device(const DeviceOptions& options);

namespace metal {

/// Starts an Xcode GPU capture of all Metal work into `path` (a new `.gputrace` document).
/// Needs MTL_CAPTURE_ENABLED=1 in the environment before the process first touches Metal.
void capture_begin(const std::string& path);
/// Ends the capture started by capture_begin; does nothing when no capture is running.
void capture_end();

/// C = alpha * op(A) @ op(B) + beta * C with MPSMatrixMultiplication, per batch entry.
/// A is stored as M x K (K x M when transpose_a), B as K x N (N x K when transpose_b), C as M x N,
/// all row-major with row strides lda/ldb/ldc in elements (0: packed). Batch strides are in
/// elements; a stride that MPS cannot express as one batched matrix (e.g. 0, for a broadcast
/// operand) is encoded as one multiplication per batch entry — for broadcast weights prefer
/// folding the batch into M.
struct MpsMatmulArgs {
  BufferPtr a, b, c;
  size_t a_offset = 0, b_offset = 0, c_offset = 0;  // bytes
  uint32_t m = 0, n = 0, k = 0;
  bool transpose_a = false, transpose_b = false;
  double alpha = 1.0, beta = 0.0;
  DType dtype = DType::F32;  // F32 or F16, the same for A, B and C
  uint32_t lda = 0, ldb = 0, ldc = 0;
  uint32_t batch = 1;
  size_t a_batch_stride = 0, b_batch_stride = 0, c_batch_stride = 0;  // elements
  std::string label = "mps_matmul";  // profiler label
};

/// Encodes the multiplication into a Metal command buffer (ending its open compute encoder).
/// Throws ArgumentError/DTypeError for invalid arguments or a command buffer of another device.
void encode_mps_matmul(CommandBuffer& command_buffer, const MpsMatmulArgs& args);

}  // namespace metal
}  // namespace metallic
