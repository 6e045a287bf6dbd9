// The backend contract: the few primitives a device implements. Everything else (tensors, pools,
// caches, dependency tracking, op validation) lives once in src/core. See docs/architecture.md.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "metallic/dtype.hpp"
#include "metallic/graph.hpp"

namespace metallic {

enum class DeviceKind { Host, Metal };

/// A device allocation. Both devices allocate host-visible memory (unified memory on Apple GPUs).
class Buffer {
 public:
  virtual ~Buffer() = default;
  virtual size_t length() const = 0;
  /// Host pointer to the first byte; valid for the buffer's lifetime.
  virtual void* contents() = 0;
};
using BufferPtr = std::shared_ptr<Buffer>;

/// The value of one `[[function_constant(i)]]`, stored as the MSL type names it.
struct FunctionConstant {
  enum class Type : uint8_t { Bool, Int, UInt, Short, UShort, Float, Half };
  uint32_t index = 0;
  Type type = Type::Int;
  uint64_t bits = 0;  // the value's bytes, little-endian, zero-extended

  bool operator==(const FunctionConstant& o) const {
    return index == o.index && type == o.type && bits == o.bits;
  }
  bool operator<(const FunctionConstant& o) const {
    return index != o.index ? index < o.index : (type != o.type ? type < o.type : bits < o.bits);
  }
};
/// Sorted by index; part of the pipeline cache key.
using FunctionConstants = std::vector<FunctionConstant>;

/// Where a kernel library comes from.
struct LibrarySource {
  enum class Kind {
    Builtin,       // metal/<family>, built with the package
    Source,        // MSL text compiled by the device (Metal: newLibraryWithSource)
    HostCompiled,  // host device: a shared object translated and compiled at run time (`path`)
  };
  Kind kind = Kind::Builtin;
  std::string name;                       // builtin: the metal/<family> name; others: a label
  std::string source;                     // Source: the MSL text
  std::string path;                       // HostCompiled: the shared object
  std::vector<std::string> include_dirs;  // Source: directories for #include "..."
};

/// A loaded kernel library (one metal/<family>, or a user library compiled at run time).
class Library {
 public:
  virtual ~Library() = default;
  virtual const std::string& name() const = 0;
  virtual std::vector<std::string> function_names() const = 0;
};
using LibraryPtr = std::shared_ptr<Library>;

/// One [[buffer(i)]] or [[threadgroup(i)]] parameter of a kernel, as its device reflects it.
struct KernelArgument {
  enum class Kind : uint8_t { Buffer, Threadgroup };
  Kind kind = Kind::Buffer;
  uint32_t index = 0;
  std::string name;           // the parameter's name
  std::string type;           // as spelled in the source ("constant float&"), or ""
  size_t element_size = 0;    // bytes of the type it points or refers to; 0: unknown
  bool is_reference = false;  // T& (exactly one T) rather than T* (any number of them)
  bool optional = false;      // [[function_constant]]: may be left unbound
};

/// A compiled compute pipeline: one function specialised by its function-constant values.
class Pipeline {
 public:
  virtual ~Pipeline() = default;
  virtual const std::string& function_name() const = 0;
  virtual uint32_t max_total_threads_per_threadgroup() const = 0;
  virtual uint32_t thread_execution_width() const = 0;
  virtual size_t static_threadgroup_memory_length() const = 0;
  /// The kernel's [[buffer]] and [[threadgroup]] parameters, where the device can reflect them
  /// (empty: unknown, and custom-kernel arguments are then not checked).
  virtual std::vector<KernelArgument> arguments() const { return {}; }
};
using PipelinePtr = std::shared_ptr<Pipeline>;

using Size3 = std::array<uint32_t, 3>;

enum class DispatchMode : uint8_t {
  Threadgroups,  // `grid` counts threadgroups (dispatchThreadgroups)
  Threads,       // `grid` counts threads; edge threadgroups may be partial (dispatchThreads)
};

/// One argument binding: a buffer range, or inline bytes (setBytes).
struct Binding {
  uint32_t index = 0;
  BufferPtr buffer;            // null for inline bytes
  size_t offset = 0;           // buffer bindings
  size_t length = SIZE_MAX;    // bytes a kernel may reach from offset (host checks bound by it)
  std::vector<uint8_t> bytes;  // inline bytes
};

/// Everything one compute dispatch needs.
struct DispatchCommand {
  PipelinePtr pipeline;
  std::vector<Binding> bindings;
  std::vector<std::pair<uint32_t, size_t>> threadgroup_memory;  // [[threadgroup(i)]] lengths
  Size3 grid{1, 1, 1};
  Size3 threadgroup{1, 1, 1};
  DispatchMode mode = DispatchMode::Threads;
  std::string label;  // profiler label: op name and scope
};

/// A matrix multiplication by the device's own library (MPSMatrixMultiplication on Metal, a
/// reference GEMM on the host device): C = alpha * op(A) @ op(B) + beta * C per batch entry.
/// A is stored M x K (K x M when transpose_a), B K x N (N x K when transpose_b), C M x N, all
/// row-major with row strides lda/ldb/ldc in elements (0: packed); batch strides in elements.
struct MatmulCommand {
  BufferPtr a, b, c;
  size_t a_offset = 0, b_offset = 0, c_offset = 0;  // bytes
  uint32_t m = 0, n = 0, k = 0;
  bool transpose_a = false, transpose_b = false;
  double alpha = 1.0, beta = 0.0;
  DType dtype = DType::F32;  // F32 or F16, the same for A, B and C
  uint32_t lda = 0, ldb = 0, ldc = 0;
  uint32_t batch = 1;
  size_t a_batch_stride = 0, b_batch_stride = 0, c_batch_stride = 0;  // elements
  std::string label = "matmul";                                       // profiler label
};

/// A graph compiled by a device for its fixed shapes and dtypes (Metal: an MPSGraphExecutable;
/// host device: the graph, ready for the reference executor). Made by Device::compile_graph and
/// cached by the core's GraphExecutableCache.
class GraphExecutable {
 public:
  virtual ~GraphExecutable() = default;
  virtual const graph::Graph& graph() const = 0;
};
using GraphExecutablePtr = std::shared_ptr<GraphExecutable>;

/// One tensor of a graph execution: contiguous row-major data of the node's shape and dtype,
/// starting `offset` bytes into `buffer`.
struct GraphTensorBinding {
  BufferPtr buffer;
  size_t offset = 0;
};

/// One execution of a compiled graph, ordered with the command buffer's other work.
struct GraphCommand {
  GraphExecutablePtr executable;
  std::vector<GraphTensorBinding> inputs;   // one per placeholder, in Graph::placeholders() order
  std::vector<GraphTensorBinding> outputs;  // one per output, in Graph::outputs() order
  std::string label = "graph";              // profiler label
};

/// Duration of one labelled dispatch (or, where the device cannot split, of a command buffer).
struct DispatchTiming {
  std::string label;
  double seconds = 0.0;
  double start = -1.0;  // when it started, in seconds on the device's clock; -1: unknown
};

/// Records dispatches; runs asynchronously after commit (on every device, like a GPU queue).
class CommandBuffer {
 public:
  virtual ~CommandBuffer() = default;
  virtual void encode_dispatch(DispatchCommand&& command) = 0;
  /// Encodes a matrix multiplication by the device's own library (see MatmulCommand).
  virtual void encode_matmul(const MatmulCommand& command) = 0;
  /// Encodes one execution of a compiled graph, after the work encoded before it.
  virtual void encode_graph(GraphCommand&& command) = 0;
  /// Sends the recorded work to the device's queue. Encoding after commit is an error.
  virtual void commit() = 0;
  /// Blocks until the work has run; throws DeviceError if it failed.
  virtual void wait() = 0;
  /// Blocks until the work has run or `seconds` have passed; returns whether it has run (and
  /// then, as wait(), throws DeviceError if it failed). The default polls is_completed().
  virtual bool wait_for(double seconds);
  virtual bool is_completed() const = 0;
  /// Timings of the completed work, in dispatch order.
  virtual std::vector<DispatchTiming> timings() const = 0;
};
using CommandBufferPtr = std::shared_ptr<CommandBuffer>;

/// A compute device with its own command queue. One per Context.
class Device {
 public:
  virtual ~Device() = default;
  virtual DeviceKind kind() const = 0;
  virtual std::string name() const = 0;
  /// Name, limits and capabilities, for `metallic info` and Context.device_info().
  virtual std::map<std::string, std::string> info() const = 0;
  virtual BufferPtr allocate(size_t bytes) = 0;
  /// A buffer over `length` bytes of host memory at `data`, without a copy, that keeps `owner`
  /// alive; nullptr where the device cannot use that memory directly (the default).
  virtual BufferPtr wrap_host_memory(void* data, size_t length, std::shared_ptr<void> owner);
  /// Loads (and for Source, compiles) a library; throws KernelCompileError.
  virtual LibraryPtr load_library(const LibrarySource& source) = 0;
  /// Makes a pipeline; the Context caches it by (library, function, constants).
  virtual PipelinePtr make_pipeline(const LibraryPtr& library, const std::string& function,
                                    const FunctionConstants& constants) = 0;
  virtual CommandBufferPtr new_command_buffer() = 0;
  /// Compiles `graph` (its outputs set) for this device; throws DeviceError where the device has
  /// no graph executor. Callers cache the result (ResourceCache), since compiling is slow on Metal.
  virtual GraphExecutablePtr compile_graph(const graph::Graph& graph) = 0;
  /// Whether compile_graph lowers NodeKind::ScaledDotProductAttention to a fused call (Metal:
  /// MPSGraph on macOS 15 and later). Graph kernels build the unfused form where it does not.
  virtual bool graph_has_fused_attention() const { return false; }
  /// Stops committed work that has not completed, if the device can (the host device can, a GPU
  /// cannot: the default does nothing). Called once a context has become unusable (a wait was
  /// interrupted), so that a kernel that never ends does not keep running.
  virtual void abandon_work() {}
  /// Starts a GPU capture into `path` (Metal: an Xcode .gputrace); other devices throw.
  virtual void capture_begin(const std::string& path);
  /// Ends the capture started by capture_begin.
  virtual void capture_end() {}
};

/// Options a device reads when it is created.
struct DeviceOptions {
  bool host_checks = false;  // host device: bounds / uninitialised-memory checks
};

/// How the host device compiles MSL source (LibrarySource::Kind::Source): the translator is a
/// Python program (metallic._msl), so the Python module installs this at import. Returns the
/// path of a shared object built for host checks or not; throws KernelCompileError.
using HostSourceCompiler = std::string (*)(const LibrarySource& source, bool host_checks);
void set_host_source_compiler(HostSourceCompiler compiler);

/// The devices compiled into this build: "host" always, "metal" on Apple.
std::vector<std::string> available_devices();
/// Creates a device by name ("host", "metal"); throws DeviceError if it is not available.
std::unique_ptr<Device> create_device(const std::string& name, const DeviceOptions& options);

}  // namespace metallic
