#include "metallic/kernel.hpp"

#include <algorithm>

#include "metallic/error.hpp"

namespace metallic {

ComputeKernelEncoder::ComputeKernelEncoder(Context& ctx, const char* op_name)
    : ctx_(ctx), op_name_(op_name) {
  command_.bindings.reserve(8);
}

ComputeKernelEncoder& ComputeKernelEncoder::pipeline(KernelFunction fn,
                                                     const FunctionConstants& constants) {
  command_.pipeline = ctx_.pipeline(fn, constants);
  return *this;
}

ComputeKernelEncoder& ComputeKernelEncoder::pipeline(PipelinePtr pipeline) {
  command_.pipeline = std::move(pipeline);
  return *this;
}

namespace {

/// Bytes a kernel may reach from the tensor's first element (a pooled buffer may be larger).
/// Dimensions with negative strides reach below the first element, which a kernel indexing
/// forward cannot.
size_t tensor_extent_bytes(const Tensor& t) {
  int64_t last = 0;
  for (size_t d = 0; d < t.ndim(); ++d) {
    if (t.shape()[d] == 0) return 0;
    if (t.strides()[d] > 0) last += (t.shape()[d] - 1) * t.strides()[d];
  }
  return dtype_nbytes(t.dtype(), size_t(last + 1));
}

}  // namespace

ComputeKernelEncoder& ComputeKernelEncoder::check_arguments(std::vector<uint32_t> unbound) {
  check_arguments_ = true;
  unbound_ = std::move(unbound);
  return *this;
}

ComputeKernelEncoder& ComputeKernelEncoder::buffer(uint32_t index, const Tensor& t) {
  if (&t.context() != &ctx_) {
    throw ArgumentError(std::string(op_name_) + ": a tensor belongs to another context");
  }
  ctx_.mark_used(t);
  bound_bytes_ += t.nbytes();
  Binding b;
  b.index = index;
  b.buffer = t.buffer();
  b.offset = t.offset_bytes();
  if (ctx_.options().host_checks) b.length = tensor_extent_bytes(t);  // what checks bound by
  if (check_arguments_) tensor_extents_.emplace_back(index, tensor_extent_bytes(t));
  command_.bindings.push_back(std::move(b));
  return *this;
}

ComputeKernelEncoder& ComputeKernelEncoder::bytes(uint32_t index, const void* data, size_t length) {
  if (length > 4096) {
    throw ArgumentError(std::string(op_name_) + ": inline bytes are limited to 4096 bytes (got " +
                        std::to_string(length) + "); pass a tensor instead");
  }
  Binding b;
  b.index = index;
  b.bytes.assign(static_cast<const uint8_t*>(data), static_cast<const uint8_t*>(data) + length);
  command_.bindings.push_back(std::move(b));
  return *this;
}

ComputeKernelEncoder& ComputeKernelEncoder::threadgroup_memory(uint32_t index, size_t length) {
  command_.threadgroup_memory.emplace_back(index, length);
  return *this;
}

void ComputeKernelEncoder::matmul(MatmulCommand command, const Tensor& a, const Tensor& b,
                                  const Tensor& c) {
  for (const Tensor* t : {&a, &b, &c}) {
    if (&t->context() != &ctx_) {
      throw ArgumentError(std::string(op_name_) + ": a tensor belongs to another context");
    }
    ctx_.mark_used(*t);
  }
  command.a = a.buffer();
  command.b = b.buffer();
  command.c = c.buffer();
  command.a_offset = a.offset_bytes();
  command.b_offset = b.offset_bytes();
  command.c_offset = c.offset_bytes();
  command.label = ctx_.profiler().label(op_name_);
  std::lock_guard<std::recursive_mutex> lock(ctx_.stream_mutex());
  CommandBuffer& cb = ctx_.active_command_buffer();
  if (ctx_.profiler().recording()) {
    record("matmul (device library)", {command.n, command.m, command.batch}, {0, 0, 0},
           a.nbytes() + b.nbytes() + c.nbytes());
  }
  cb.encode_matmul(command);
  ctx_.dispatch_encoded();
}

void ComputeKernelEncoder::graph(const GraphExecutablePtr& executable,
                                 const std::vector<Tensor>& inputs,
                                 const std::vector<Tensor>& outputs) {
  const graph::Graph& g = executable->graph();
  if (inputs.size() != g.placeholders().size() || outputs.size() != g.outputs().size()) {
    throw ArgumentError(std::string(op_name_) + ": the graph takes " +
                        std::to_string(g.placeholders().size()) + " inputs and " +
                        std::to_string(g.outputs().size()) + " outputs, got " +
                        std::to_string(inputs.size()) + " and " + std::to_string(outputs.size()));
  }
  if (std::all_of(outputs.begin(), outputs.end(), [](const Tensor& t) { return t.numel() == 0; })) {
    return;
  }
  GraphCommand command;
  command.executable = executable;
  size_t bytes = 0;
  auto bind = [&](const Tensor& t, graph::NodeId id) {
    const graph::Node& n = g.node(id);
    if (&t.context() != &ctx_) {
      throw ArgumentError(std::string(op_name_) + ": a tensor belongs to another context");
    }
    if (!t.is_contiguous() || t.dtype() != n.dtype ||
        !std::equal(t.shape().begin(), t.shape().end(), n.shape.begin(), n.shape.end())) {
      throw ArgumentError(std::string(op_name_) + ": graph tensors must be contiguous and match " +
                          "their node (" + dtype_name(n.dtype) + " " +
                          shape_str(Shape(n.shape.begin(), n.shape.end())) + "), got " +
                          t.describe());
    }
    ctx_.mark_used(t);
    bytes += t.nbytes();
    return GraphTensorBinding{t.buffer(), t.offset_bytes()};
  };
  for (size_t i = 0; i < inputs.size(); ++i) {
    command.inputs.push_back(bind(inputs[i], g.placeholders()[i]));
  }
  for (size_t i = 0; i < outputs.size(); ++i) {
    command.outputs.push_back(bind(outputs[i], g.outputs()[i]));
  }
  command.label = ctx_.profiler().label(op_name_);
  std::lock_guard<std::recursive_mutex> lock(ctx_.stream_mutex());
  CommandBuffer& cb = ctx_.active_command_buffer();
  if (ctx_.profiler().recording()) record("graph (device executor)", {0, 0, 0}, {0, 0, 0}, bytes);
  cb.encode_graph(std::move(command));
  ctx_.dispatch_encoded();
}

void ComputeKernelEncoder::record(const std::string& kernel, Size3 grid, Size3 threadgroup,
                                  size_t bytes) {
  DispatchRecord r;
  r.label = op_name_;
  r.scope = ctx_.profiler().scope();
  r.kernel = kernel;
  r.grid = grid;
  r.threadgroup = threadgroup;
  r.bytes = bytes;
  ctx_.profiler().encoded(ctx_.active_sequence(), ctx_.active_commands(), std::move(r));
}

const Pipeline& ComputeKernelEncoder::current_pipeline() const {
  if (!command_.pipeline) throw MetallicError(std::string(op_name_) + ": no pipeline set");
  return *command_.pipeline;
}

void ComputeKernelEncoder::dispatch_1d(uint32_t threads, uint32_t threadgroup_width) {
  dispatch({threads, 1, 1}, {threadgroup_width, 1, 1}, DispatchMode::Threads);
}

void ComputeKernelEncoder::dispatch_2d(Size3 threads, Size3 threadgroup) {
  dispatch({threads[0], threads[1], 1}, {threadgroup[0], threadgroup[1], 1}, DispatchMode::Threads);
}

void ComputeKernelEncoder::dispatch_3d(Size3 threads, Size3 threadgroup) {
  dispatch(threads, threadgroup, DispatchMode::Threads);
}

void ComputeKernelEncoder::dispatch_threads(Size3 threads, Size3 threadgroup) {
  dispatch(threads, threadgroup, DispatchMode::Threads);
}

void ComputeKernelEncoder::dispatch_custom(Size3 threadgroups, Size3 threadgroup) {
  dispatch(threadgroups, threadgroup, DispatchMode::Threadgroups);
}

void ComputeKernelEncoder::dispatch(Size3 grid, Size3 threadgroup, DispatchMode mode) {
  const Pipeline& p = current_pipeline();
  const uint64_t threads = uint64_t(threadgroup[0]) * threadgroup[1] * threadgroup[2];
  if (threads == 0) {
    throw ArgumentError(std::string(op_name_) +
                        ": threadgroup size must be at least 1 in each "
                        "dimension");
  }
  if (threads > p.max_total_threads_per_threadgroup()) {
    throw ArgumentError(std::string(op_name_) + ": threadgroup of " + std::to_string(threads) +
                        " threads exceeds the pipeline's limit of " +
                        std::to_string(p.max_total_threads_per_threadgroup()) + " for " +
                        p.function_name());
  }
  if (check_arguments_) validate_arguments();
  if (uint64_t(grid[0]) * grid[1] * grid[2] == 0) return;  // nothing to run
  Size3 grid_threads = grid;
  if (mode == DispatchMode::Threadgroups) {
    for (int i = 0; i < 3; ++i) {
      const uint64_t n = uint64_t(grid[i]) * threadgroup[i];
      if (n > UINT32_MAX) {
        throw ArgumentError(
            std::string(op_name_) + ": " + std::to_string(grid[i]) + " threadgroups of " +
            std::to_string(threadgroup[i]) + " threads in dimension " + std::to_string(i) +
            " are " + std::to_string(n) + " threads; a grid has at most 2^32-1 in each dimension");
      }
      grid_threads[i] = static_cast<uint32_t>(n);
    }
  }
  command_.grid = grid;
  command_.threadgroup = threadgroup;
  command_.mode = mode;
  command_.label = ctx_.profiler().label(op_name_);
  std::lock_guard<std::recursive_mutex> lock(ctx_.stream_mutex());
  CommandBuffer& cb = ctx_.active_command_buffer();
  if (ctx_.profiler().recording())
    record(p.function_name(), grid_threads, threadgroup, bound_bytes_);
  cb.encode_dispatch(std::move(command_));
  command_ = DispatchCommand{};
  bound_bytes_ = 0;
  ctx_.dispatch_encoded();
}

}  // namespace metallic
