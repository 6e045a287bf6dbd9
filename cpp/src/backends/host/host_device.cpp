#include "backends/host/host_device.hpp"

#include <dlfcn.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>

#include "metallic/error.hpp"
#include "metallic/kernel_registry.hpp"

namespace metallic::host {

namespace {
std::atomic<HostSourceCompiler> g_source_compiler{nullptr};
}  // namespace

extern const mtlh_library_fn kBuiltinLibraries[];
extern const mtlh_library_fn kBuiltinCheckedLibraries[];  // debug-checked translations

HostBuffer::HostBuffer(size_t length) : length_(length) {
  // The buffer ends (rounded up to 16 bytes, the largest alignment an MSL type needs) where a
  // guard region begins, so a kernel that runs past its end faults: a DeviceError naming the
  // kernel even without host checks (docs/host-device.md says what this does not catch). The
  // guard is as large as the buffer (at least a page, at most 16 MiB): reserved address space,
  // no memory, and it catches a grid up to twice too large.
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  if (length > SIZE_MAX / 4) {
    throw DeviceError("host device: out of memory allocating " + std::to_string(length) + " bytes");
  }
  const size_t used = ((length ? length : 1) + 15) / 16 * 16;
  const size_t data_bytes = (used + page - 1) / page * page;
  const size_t guard_bytes = std::min(data_bytes, size_t(16) << 20);
  void* base = mmap(nullptr, data_bytes + guard_bytes, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (base != MAP_FAILED &&
      mprotect(static_cast<char*>(base) + data_bytes, guard_bytes, PROT_NONE) == 0) {
    mapping_ = base;
    mapping_bytes_ = data_bytes + guard_bytes;
    data_ = static_cast<char*>(base) + data_bytes - used;
    return;
  }
  if (base != MAP_FAILED) munmap(base, data_bytes + guard_bytes);
  // No mapping left (the process's limit of mappings): an unguarded allocation.
  data_ = std::aligned_alloc(64, (used + 63) / 64 * 64);
  if (!data_)
    throw DeviceError("host device: out of memory allocating " + std::to_string(length) + " bytes");
}

HostBuffer::~HostBuffer() {
  if (mapping_) {
    munmap(mapping_, mapping_bytes_);
  } else {
    std::free(data_);
  }
}

HostLibrary::HostLibrary(std::string name, const mtlh_library* table, void* handle)
    : name_(std::move(name)), table_(table), handle_(handle) {}

HostLibrary::~HostLibrary() {
  if (handle_) dlclose(handle_);
}

std::vector<std::string> HostLibrary::function_names() const {
  std::vector<std::string> names;
  for (uint32_t i = 0; i < table_->num_kernels; ++i) names.emplace_back(table_->kernels[i].name);
  return names;
}

const mtlh_kernel& HostLibrary::kernel(const std::string& function) const {
  for (uint32_t i = 0; i < table_->num_kernels; ++i) {
    if (function == table_->kernels[i].name) return table_->kernels[i];
  }
  std::string names;
  for (const auto& n : function_names()) names += (names.empty() ? "" : ", ") + n;
  throw MetallicError("library '" + name_ + "' has no kernel function '" + function +
                      "' (it has: " + names + ")");
}

HostPipeline::HostPipeline(LibraryPtr library, const mtlh_kernel& kernel,
                           const FunctionConstants& constants)
    : library_(std::move(library)), kernel_(kernel), name_(kernel.name) {
  for (const auto& c : constants) {
    constants_.push_back({c.index, static_cast<uint32_t>(c.type), c.bits});
  }
}

namespace {

/// METALLIC_HOST_TIMEOUT_S: seconds a dispatch may run before the watchdog stops it (0: never).
double host_timeout_seconds() {
  const char* v = std::getenv("METALLIC_HOST_TIMEOUT_S");
  if (v == nullptr || *v == 0) return 0.0;
  char* end = nullptr;
  const double seconds = std::strtod(v, &end);
  if (end == v || *end != 0 || !(seconds >= 0)) {
    throw ArgumentError(std::string("METALLIC_HOST_TIMEOUT_S=") + v +
                        " is not a number of seconds (e.g. 30, or 0 for no limit)");
  }
  return seconds;
}

}  // namespace

std::vector<KernelArgument> HostPipeline::arguments() const {
  std::vector<KernelArgument> out;
  for (uint32_t i = 0; i < kernel_.num_params; ++i) {
    const mtlh_param& p = kernel_.params[i];
    KernelArgument a;
    a.kind = p.kind == MTLH_PARAM_THREADGROUP ? KernelArgument::Kind::Threadgroup
                                              : KernelArgument::Kind::Buffer;
    a.index = p.index;
    a.name = p.name ? p.name : "";
    a.type = p.type ? p.type : "";
    a.element_size = static_cast<size_t>(p.element_size);
    a.is_reference = p.is_reference != 0;
    a.optional = p.optional != 0;
    out.push_back(std::move(a));
  }
  return out;
}

HostDevice::HostDevice(const DeviceOptions& options)
    : options_(options), queue_(options.host_checks, host_timeout_seconds()) {
  const char* fused = std::getenv("METALLIC_HOST_GRAPH_FUSED_ATTENTION");
  fused_attention_ = !(fused && std::strcmp(fused, "0") == 0);
}

void HostDevice::abandon_work() {
  queue_.abandon("abandoned: its context was interrupted while waiting");
}

std::string HostDevice::name() const {
  return "host";
}

std::map<std::string, std::string> HostDevice::info() const {
  return {
      {"name", "host (Metal emulation on the CPU)"},
      {"cpu_threads", std::to_string(std::thread::hardware_concurrency())},
      {"simd_width", "32"},
      {"max_threads_per_threadgroup", "1024"},
      {"max_threadgroup_memory_length", "32768"},
      {"unified_memory", "true"},
      {"host_checks", options_.host_checks ? "true" : "false"},
  };
}

BufferPtr HostDevice::allocate(size_t bytes) {
  return std::make_shared<HostBuffer>(bytes);
}

LibraryPtr HostDevice::load_library(const LibrarySource& source) {
  switch (source.kind) {
    case LibrarySource::Kind::Builtin:
      for (size_t i = 0; i < kKernelLibraryCount; ++i) {
        if (source.name == kernel_library_name(static_cast<KernelLibrary>(i))) {
          const auto* table =
              options_.host_checks ? kBuiltinCheckedLibraries[i]() : kBuiltinLibraries[i]();
          return std::make_shared<HostLibrary>(source.name, table, nullptr);
        }
      }
      throw MetallicError("no built-in kernel library '" + source.name + "'");
    case LibrarySource::Kind::HostCompiled: {
      void* handle = dlopen(source.path.c_str(), RTLD_NOW | RTLD_LOCAL);
      if (!handle)
        throw KernelCompileError(std::string("cannot load ") + source.path + ": " + dlerror());
      auto fn = reinterpret_cast<mtlh_library_fn>(dlsym(handle, "metallic_host_library"));
      const mtlh_library* table = fn ? fn() : nullptr;
      if (!table || table->abi_version != METALLIC_HOST_ABI_VERSION) {
        dlclose(handle);
        throw KernelCompileError(source.path + " is not a metallic host kernel library of ABI " +
                                 std::to_string(METALLIC_HOST_ABI_VERSION) + " (rebuild it)");
      }
      return std::make_shared<HostLibrary>(source.name, table, handle);
    }
    case LibrarySource::Kind::Source: {
      const HostSourceCompiler compile = g_source_compiler.load();
      if (compile == nullptr) {
        throw KernelCompileError(
            "the host device compiles MSL source with the translator of the Python package: "
            "import metallic (it installs it), or load a translated shared object "
            "(LibrarySource::Kind::HostCompiled)");
      }
      LibrarySource compiled;
      compiled.kind = LibrarySource::Kind::HostCompiled;
      compiled.name = source.name;
      compiled.path = compile(source, options_.host_checks);
      return load_library(compiled);
    }
  }
  throw MetallicError("unknown kind of library source");
}

PipelinePtr HostDevice::make_pipeline(const LibraryPtr& library, const std::string& function,
                                      const FunctionConstants& constants) {
  auto* host_library = dynamic_cast<HostLibrary*>(library.get());
  if (!host_library) throw MetallicError("library '" + library->name() + "' is not a host library");
  return std::make_shared<HostPipeline>(library, host_library->kernel(function), constants);
}

CommandBufferPtr HostDevice::new_command_buffer() {
  return std::make_shared<HostCommandBuffer>(queue_);
}

}  // namespace metallic::host

namespace metallic {
void set_host_source_compiler(HostSourceCompiler compiler) {
  host::g_source_compiler.store(compiler);
}
}  // namespace metallic

namespace metallic::host {

std::unique_ptr<Device> create_host_device(const DeviceOptions& options) {
  return std::make_unique<HostDevice>(options);
}

}  // namespace metallic::host
