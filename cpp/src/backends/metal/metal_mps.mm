// "MPS call kernels": matrix multiplication by MPSMatrixMultiplication, encoded into the same
// command buffer as the compute dispatches around it.

#import <MetalPerformanceShaders/MetalPerformanceShaders.h>

#include "metal_internal.h"
#include "metallic/error.hpp"

namespace metallic::metal {
namespace {

constexpr NSUInteger kMaxCachedKernels = 256;

struct Operand {
  const char* name;
  const BufferPtr& buffer;
  size_t offset;        // bytes
  uint32_t rows, cols;  // as stored
  uint32_t ld;          // row stride, elements
  size_t batch_stride;  // elements
};

void check_operand(const Operand& o, const MatmulCommand& a, size_t elem) {
  const std::string where = "mps_matmul '" + a.label + "': operand " + o.name + " ";
  if (!o.buffer) throw ArgumentError(where + "has no buffer");
  if (!dynamic_cast<MetalBuffer*>(o.buffer.get())) {
    throw ArgumentError(where + "was not allocated by the Metal device");
  }
  if (o.offset % elem != 0) {
    throw ArgumentError(where + "offset " + std::to_string(o.offset) +
                        " is not a multiple of the element size " + std::to_string(elem));
  }
  if (o.ld < o.cols) {
    throw ArgumentError(where + "row stride " + std::to_string(o.ld) + " is less than its " +
                        std::to_string(o.cols) + " columns");
  }
  size_t last = (a.batch - 1) * o.batch_stride + size_t(o.rows - 1) * o.ld + o.cols;
  if (o.offset + last * elem > o.buffer->length()) {
    throw ArgumentError(where + "(" + std::to_string(o.rows) + "x" + std::to_string(o.cols) +
                        ", batch " + std::to_string(a.batch) + ") runs past the end of its " +
                        std::to_string(o.buffer->length()) + "-byte buffer");
  }
}

// MPS describes a batch as matrices `matrixBytes` apart, a multiple of rowBytes of at least
// rows * rowBytes; anything else (a broadcast stride of 0, say) is one matrix per entry.
bool mps_batchable(const Operand& o) {
  return o.batch_stride % o.ld == 0 && o.batch_stride >= size_t(o.rows) * o.ld;
}

MPSMatrix* matrix(const Operand& o, size_t offset, NSUInteger matrices, MPSDataType type,
                  size_t elem) {
  MPSMatrixDescriptor* desc = [MPSMatrixDescriptor
      matrixDescriptorWithRows:o.rows
                       columns:o.cols
                      matrices:matrices
                      rowBytes:o.ld * elem
                   matrixBytes:(matrices > 1 ? o.batch_stride : size_t(o.rows) * o.ld) * elem
                      dataType:type];
  auto* buffer = static_cast<MetalBuffer*>(o.buffer.get());
  return [[MPSMatrix alloc] initWithBuffer:buffer->mtl() offset:offset descriptor:desc];
}

// Kernels are immutable apart from batchStart/batchSize (set before each encode), so one per
// shape serves every call; the cache is bounded because prefill lengths vary.
MPSMatrixMultiplication* kernel(DeviceState& state, const MatmulCommand& a) {
  NSString* key = [NSString stringWithFormat:@"%u,%u,%u,%d,%d,%.17g,%.17g", a.m, a.n, a.k,
                                             a.transpose_a, a.transpose_b, a.alpha, a.beta];
  MPSMatrixMultiplication* k = state.mps_kernels[key];
  if (k) return k;
  k = [[MPSMatrixMultiplication alloc] initWithDevice:state.device
                                        transposeLeft:a.transpose_a
                                       transposeRight:a.transpose_b
                                           resultRows:a.m
                                        resultColumns:a.n
                                      interiorColumns:a.k
                                                alpha:a.alpha
                                                 beta:a.beta];
  if (!k) {
    throw DeviceError("mps_matmul '" + a.label + "': MPS could not create an " +
                      "MPSMatrixMultiplication for this Metal device (" +
                      to_std(state.device.name) + ")");
  }
  if (state.mps_kernels.count >= kMaxCachedKernels) [state.mps_kernels removeAllObjects];
  state.mps_kernels[key] = k;
  return k;
}

}  // namespace

void encode_mps_matmul(CommandBuffer& command_buffer, const MatmulCommand& a) {
  @autoreleasepool {
    auto* cb = dynamic_cast<MetalCommandBuffer*>(&command_buffer);
    if (!cb) throw ArgumentError("mps_matmul needs a command buffer of the Metal device");
    require_mps(cb->state(), "mps_matmul '" + a.label + "'");
    if (a.dtype != DType::F32 && a.dtype != DType::F16) {
      throw DTypeError("mps_matmul '" + a.label + "': MPS matrices support f32 and f16, not " +
                       dtype_name(a.dtype));
    }
    if (a.m == 0 || a.n == 0 || a.batch == 0) return;
    if (a.k == 0) throw ArgumentError("mps_matmul '" + a.label + "': K must be positive");
    const size_t elem = dtype_size(a.dtype);
    const MPSDataType type = a.dtype == DType::F32 ? MPSDataTypeFloat32 : MPSDataTypeFloat16;

    const uint32_t a_rows = a.transpose_a ? a.k : a.m, a_cols = a.transpose_a ? a.m : a.k;
    const uint32_t b_rows = a.transpose_b ? a.n : a.k, b_cols = a.transpose_b ? a.k : a.n;
    const Operand ops[3] = {
        {"A", a.a, a.a_offset, a_rows, a_cols, a.lda ? a.lda : a_cols, a.a_batch_stride},
        {"B", a.b, a.b_offset, b_rows, b_cols, a.ldb ? a.ldb : b_cols, a.b_batch_stride},
        {"C", a.c, a.c_offset, a.m, a.n, a.ldc ? a.ldc : a.n, a.c_batch_stride},
    };
    for (const Operand& o : ops) check_operand(o, a, elem);

    MPSMatrixMultiplication* k = kernel(cb->state(), a);
    id<MTLCommandBuffer> native = cb->begin_external_pass(a.label);
    const bool batched =
        a.batch > 1 && mps_batchable(ops[0]) && mps_batchable(ops[1]) && mps_batchable(ops[2]);
    const uint32_t passes = (a.batch > 1 && !batched) ? a.batch : 1;
    const NSUInteger matrices = batched ? a.batch : 1;
    k.batchStart = 0;
    k.batchSize = matrices;
    for (uint32_t i = 0; i < passes; ++i) {
      MPSMatrix* m[3];
      for (int j = 0; j < 3; ++j) {
        size_t offset = ops[j].offset + size_t(i) * ops[j].batch_stride * elem;
        m[j] = matrix(ops[j], offset, matrices, type, elem);
        cb->keep_alive(m[j]);
      }
      [k encodeToCommandBuffer:native leftMatrix:m[0] rightMatrix:m[1] resultMatrix:m[2]];
    }
    cb->keep_alive(k);
    for (const Operand& o : ops) cb->keep_alive(o.buffer);
  }
}

}  // namespace metallic::metal
