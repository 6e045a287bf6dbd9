#include "metallic/context.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "metallic/error.hpp"

namespace metallic {

namespace {

bool env_flag(const char* name) {
  const char* v = std::getenv(name);
  return v && *v && std::strcmp(v, "0") != 0;
}

/// A positive number from the environment, or `fallback`.
size_t env_number(const char* name, size_t fallback) {
  const char* v = std::getenv(name);
  const size_t n = v ? static_cast<size_t>(std::strtoull(v, nullptr, 10)) : 0;
  return n ? n : fallback;
}

std::string resolve_device(const std::string& requested) {
  std::string name = requested;
  if (name == "auto") {
    const char* env = std::getenv("METALLIC_DEVICE");
    if (env && *env) {
      name = env;
    } else {
      const auto devices = available_devices();
      name = devices.back();  // metal where built, else host
    }
  }
  return name;
}

}  // namespace

std::shared_ptr<Context> Context::create(const ContextOptions& options) {
  return std::shared_ptr<Context>(new Context(options));
}

Context::Context(const ContextOptions& options)
    : options_(options),
      device_(
          create_device(resolve_device(options.device),
                        DeviceOptions{options.host_checks || env_flag("METALLIC_HOST_CHECKS")})),
      pool_(*device_, env_number("METALLIC_POOL_MB", 1024) << 20) {
  options_.host_checks = options.host_checks || env_flag("METALLIC_HOST_CHECKS");
  dispatch_limit_ = options.dispatches_per_command_buffer;
  if (dispatch_limit_ == 0)
    dispatch_limit_ = static_cast<uint32_t>(env_number("METALLIC_COMMIT_DISPATCHES", 64));
  bytes_limit_ = options.bytes_per_command_buffer;
  if (bytes_limit_ == 0) bytes_limit_ = env_number("METALLIC_COMMIT_MB", 256) << 20;
  const auto info = device_->info();
  const auto limit = info.find("max_threadgroup_memory_length");
  if (limit != info.end()) max_threadgroup_memory_ = std::stoull(limit->second);
  if (env_flag("METALLIC_ENABLE_PROFILING")) {
    env_profiling_ = true;
    env_profile_ = profiler_.start();
  }
}

Context::~Context() {
  // Pending work references pool buffers: let it finish before the device goes away (an
  // unusable context's work may never finish: the device abandons it).
  try {
    if (unusable_.empty()) synchronize();
    if (env_profiling_ && unusable_.empty()) {
      const std::string table = end_profile(env_profile_).table();
      std::fprintf(stderr, "metallic profile (METALLIC_ENABLE_PROFILING=1) of a %s context:\n%s",
                   device_->name().c_str(), table.c_str());
    }
  } catch (...) {
  }
}

void Context::check_usable() const {
  if (!unusable_.empty()) throw DeviceError(unusable_);
}

Tensor Context::tensor(DType dtype, Shape shape, TensorInit init, StorageKind storage) {
  const int64_t numel = checked_numel(shape, dtype_size(dtype));
  check_block_shape(dtype, shape);
  const size_t nbytes = dtype_nbytes(dtype, static_cast<size_t>(numel));
  auto st = std::make_shared<TensorStorage>();
  st->context = shared_from_this();
  if (storage == StorageKind::Pooled) {
    auto lease = pool_.acquire(nbytes);
    st->buffer = std::move(lease.buffer);
    st->last_use = lease.last_use;
    st->pooled = true;
  } else {
    st->buffer = device_->allocate(nbytes);
  }
  Shape strides = contiguous_strides(shape);
  Tensor t(std::move(st), dtype, std::move(shape), std::move(strides), 0);
  if (init.kind == TensorInit::Kind::Zeros && nbytes) {
    std::memset(t.data_for_write(), 0, nbytes);
  } else if (init.kind == TensorInit::Kind::CopyFrom && nbytes) {
    std::memcpy(t.data_for_write(), init.data, nbytes);
  }
  return t;
}

Tensor Context::tensor_from_host_memory(DType dtype, Shape shape, void* data, size_t nbytes,
                                        std::shared_ptr<void> owner) {
  check_block_shape(dtype, shape);
  const int64_t numel = checked_numel(shape, dtype_size(dtype));
  if (dtype_nbytes(dtype, static_cast<size_t>(numel)) != nbytes) {
    throw ShapeError(std::to_string(nbytes) + " bytes do not hold a " + dtype_name(dtype) +
                     " tensor of shape " + shape_str(shape) + " (that needs " +
                     std::to_string(dtype_nbytes(dtype, static_cast<size_t>(numel))) + " bytes)");
  }
  BufferPtr buffer = device_->wrap_host_memory(data, nbytes, std::move(owner));
  if (!buffer) return tensor(dtype, std::move(shape), TensorInit::copy_from(data));
  auto st = std::make_shared<TensorStorage>();
  st->context = shared_from_this();
  st->buffer = std::move(buffer);
  Shape strides = contiguous_strides(shape);
  return Tensor(std::move(st), dtype, std::move(shape), std::move(strides), 0);
}

CommandBuffer& Context::active_command_buffer() {
  if (!active_) {
    check_usable();
    active_ = device_->new_command_buffer();
  }
  return *active_;
}

void Context::mark_used(const Tensor& t) {
  t.storage()->last_use = active_seq_;
  active_bytes_ += t.nbytes();
}

void Context::dispatch_encoded() {
  if (++active_dispatches_ >= dispatch_limit_ || active_bytes_ >= bytes_limit_) commit();
}

void Context::commit() {
  std::lock_guard<std::recursive_mutex> lock(stream_mutex_);
  if (!active_) return;
  active_->commit();
  in_flight_.push_back({active_seq_, std::move(active_), active_dispatches_});
  active_.reset();
  active_dispatches_ = 0;
  active_bytes_ = 0;
  active_seq_++;
}

void Context::wait_for(uint64_t seq) {
  std::unique_lock<std::recursive_mutex> lock(stream_mutex_);
  check_usable();
  if (seq <= completed_seq_) return;
  if (seq >= active_seq_) {
    if (active_) {
      commit();
    } else {
      active_seq_++;  // `seq` was never committed: retire it so later work gets a new number
    }
  }
  // Committed command buffers stay in in_flight_ until one waiter has seen them complete; the
  // lock is released while blocked, so other threads encode (and may wait) meanwhile.
  while (completed_seq_ < seq) {
    if (in_flight_.empty() || in_flight_.front().seq > seq) {
      completed_seq_ = seq;  // sequence numbers without work
      break;
    }
    const InFlight entry = in_flight_.front();
    const uint64_t s = entry.seq;
    CommandBuffer* cb = entry.cb.get();
    lock.unlock();
    bool failed = true;
    try {
      wait_interruptibly(s, *cb);
      failed = false;
    } catch (...) {
      lock.lock();
      if (!in_flight_.empty() && in_flight_.front().seq == s) {
        in_flight_.pop_front();
        completed_seq_ = std::max(completed_seq_, s);
        profiler_.failed(s);
      }
      throw;  // DeviceError if it failed; the interrupt otherwise
    }
    lock.lock();
    if (!failed && !in_flight_.empty() && in_flight_.front().seq == s) {
      in_flight_.pop_front();
      completed_seq_ = std::max(completed_seq_, s);
      if (profiler_.recording()) profiler_.completed(s, entry.commands, cb->timings());
    }
  }
}

void Context::wait_interruptibly(uint64_t seq, CommandBuffer& cb) {
  if (!interrupt_check_) {
    cb.wait();
    return;
  }
  while (!cb.wait_for(0.05)) {
    try {
      interrupt_check_();
    } catch (...) {
      std::lock_guard<std::recursive_mutex> lock(stream_mutex_);
      unusable_ = "this context was interrupted while it waited for command buffer " +
                  std::to_string(seq) +
                  " (the device may still be running it), so it cannot be used any more: "
                  "create a new Context";
      device_->abandon_work();
      throw;
    }
  }
}

void Context::synchronize() {
  wait_for(active_seq_);
}

ProfileMark Context::begin_profile() {
  std::lock_guard<std::recursive_mutex> lock(stream_mutex_);
  return profiler_.start();
}

Profile Context::end_profile(const ProfileMark& mark) {
  synchronize();
  std::lock_guard<std::recursive_mutex> lock(stream_mutex_);
  return profiler_.stop(mark);
}

LibraryPtr Context::library(KernelLibrary lib) {
  auto& slot = libraries_[static_cast<int>(lib)];
  if (!slot) {
    LibrarySource src;
    src.kind = LibrarySource::Kind::Builtin;
    src.name = kernel_library_name(lib);
    slot = device_->load_library(src);
  }
  return slot;
}

LibraryPtr Context::compile_library(const std::string& source, const std::string& name,
                                    const std::vector<std::string>& include_dirs, bool recompile) {
  std::string key = name + '\0' + source;
  for (const auto& d : include_dirs) key += '\0' + d;
  const auto it = compiled_libraries_.find(key);
  if (it != compiled_libraries_.end() && !recompile) return it->second;
  LibrarySource src;
  src.kind = LibrarySource::Kind::Source;
  src.name = name;
  src.source = source;
  src.include_dirs = include_dirs;
  LibraryPtr lib = device_->load_library(src);  // throws KernelCompileError: nothing cached
  compiled_libraries_.insert_or_assign(std::move(key), lib);
  return lib;
}

PipelinePtr Context::pipeline(KernelFunction fn, const FunctionConstants& constants) {
  const auto& info = kernel_function_info(fn);
  if (!constants.empty()) return pipeline(library(info.library), info.name, constants);
  // The common case, on the encode hot path: an array lookup instead of a map search.
  if (builtin_pipelines_.empty()) builtin_pipelines_.resize(kKernelFunctionCount);
  auto& slot = builtin_pipelines_[static_cast<size_t>(fn)];
  if (!slot) slot = pipeline(library(info.library), info.name, constants);
  return slot;
}

PipelinePtr Context::pipeline(const LibraryPtr& library, const std::string& function,
                              const FunctionConstants& constants) {
  auto key = std::make_tuple(library.get(), function, constants);
  auto it = pipelines_.find(key);
  if (it != pipelines_.end()) return it->second;
  auto p = device_->make_pipeline(library, function, constants);
  pipelines_.emplace(std::move(key), p);
  return p;
}

}  // namespace metallic
