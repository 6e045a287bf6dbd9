// The kernel API. An Op ("KernelInvocable") is a struct with
//   static constexpr const char* name;                 // profiler label, e.g. "elemwise_add"
//   struct Args { ... };                                // its inputs
//   struct Operation { void encode(ComputeKernelEncoder&) const; ... };
//   static std::pair<Operation, Tensor> create(Context&, const Args&);  // validate + allocate
// (an Op with several outputs returns std::pair<Operation, std::vector<Tensor>>).
// `ctx.call<Op>(args)` validates, allocates the output and encodes into the active command buffer.
#pragma once

#include <cstring>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "metallic/context.hpp"

namespace metallic {

/// Records one dispatch: pipeline, arguments, threadgroup memory, then a dispatch_* call.
class ComputeKernelEncoder {
 public:
  ComputeKernelEncoder(Context& ctx, const char* op_name);

  ComputeKernelEncoder& pipeline(KernelFunction fn, const FunctionConstants& constants = {});
  ComputeKernelEncoder& pipeline(PipelinePtr pipeline);
  /// Binds `t`'s buffer at its byte offset to [[buffer(index)]] and marks it used.
  ComputeKernelEncoder& buffer(uint32_t index, const Tensor& t);
  /// Binds inline bytes (setBytes) to [[buffer(index)]].
  ComputeKernelEncoder& bytes(uint32_t index, const void* data, size_t length);
  template <class T>
  ComputeKernelEncoder& bytes(uint32_t index, const T& value) {
    static_assert(std::is_trivially_copyable_v<T>, "inline bytes must be trivially copyable");
    return bytes(index, &value, sizeof(T));
  }
  /// Sets the length of [[threadgroup(index)]] memory.
  ComputeKernelEncoder& threadgroup_memory(uint32_t index, size_t length);
  /// For kernels from outside (custom kernels): at dispatch, check every binding against the
  /// pipeline's reflected parameters (index, size of inline bytes, threadgroup memory and its
  /// limit); throws ArgumentError saying what to change. `unbound` lists the buffer indices the
  /// caller leaves unbound on purpose (parameters the kernel does not use). Call before binding.
  ComputeKernelEncoder& check_arguments(std::vector<uint32_t> unbound = {});
  /// Lets an Operation bind its own arguments: calls op.bind_kernel_args(*this).
  template <class Operation>
  ComputeKernelEncoder& bind_kernel(const Operation& op) {
    op.bind_kernel_args(*this);
    return *this;
  }

  /// `threads` threads in threadgroups of `threadgroup_width` (the last one partial).
  void dispatch_1d(uint32_t threads, uint32_t threadgroup_width);
  void dispatch_2d(Size3 threads, Size3 threadgroup);  // z of both is ignored (1)
  void dispatch_3d(Size3 threads, Size3 threadgroup);
  /// dispatchThreads: `threads` in total, threadgroups of `threadgroup`, edges partial.
  void dispatch_threads(Size3 threads, Size3 threadgroup);
  /// dispatchThreadgroups: `threadgroups` whole threadgroups of `threadgroup` threads.
  void dispatch_custom(Size3 threadgroups, Size3 threadgroup);

  /// Encodes `command` (a device-library matmul, no pipeline) on tensors a, b, c: fills in their
  /// buffers and offsets and marks them used.
  void matmul(MatmulCommand command, const Tensor& a, const Tensor& b, const Tensor& c);
  /// Encodes one execution of a compiled graph on contiguous tensors (one per placeholder, one
  /// per output, in the graph's orders) and marks them used; nothing when every output is empty.
  void graph(const GraphExecutablePtr& executable, const std::vector<Tensor>& inputs,
             const std::vector<Tensor>& outputs);

  /// The pipeline set by pipeline(), for kernels that size threadgroups by its limits.
  const Pipeline& current_pipeline() const;

 private:
  void dispatch(Size3 grid, Size3 threadgroup, DispatchMode mode);
  /// The checks of check_arguments (kernel_arguments.cpp).
  void validate_arguments() const;
  /// Records the command about to be encoded in the recording profile.
  void record(const std::string& kernel, Size3 grid, Size3 threadgroup, size_t bytes);

  Context& ctx_;
  const char* op_name_;
  DispatchCommand command_;
  size_t bound_bytes_ = 0;  // of the tensors bound so far (profile records)
  bool check_arguments_ = false;
  std::vector<uint32_t> unbound_;  // left unbound on purpose (check_arguments)
  std::vector<std::pair<uint32_t, size_t>> tensor_extents_;  // (index, bytes), when checking
};

template <class Op>
auto Context::call(const typename Op::Args& args) {
  auto [operation, output] = Op::create(*this, args);
  ComputeKernelEncoder encoder(*this, Op::name);
  operation.encode(encoder);
  return output;
}

}  // namespace metallic
