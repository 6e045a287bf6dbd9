// Graph-backed kernels on Metal: lowers a graph::Graph to an MPSGraph, compiles it once to an
// MPSGraphExecutable (the core caches it per kernel, shapes, dtypes and policy), and encodes its
// executions into the command buffer in order with the compute dispatches around them.
//
// Every MPSGraph selector here is one that PyTorch's MPS backend sends ("pytorch":
// github.com/pytorch/pytorch aten/src/ATen/native/mps) or its MPS delegate ("executorch":
// github.com/pytorch/executorch backends/apple/mps/runtime); a comment names the file where the
// use is not obvious. See docs/graph-metal.md.

#import <MetalPerformanceShaders/MetalPerformanceShaders.h>
#import <MetalPerformanceShadersGraph/MetalPerformanceShadersGraph.h>

#include <cmath>

#include "metal_check_missing_api.h"
#include "metal_internal.h"
#include "metallic/error.hpp"

namespace metallic::metal {
namespace {

using graph::Node;
using graph::NodeId;
using graph::NodeKind;

MPSDataType mps_type(DType t) {
  switch (t) {
    case DType::F32:
      return MPSDataTypeFloat32;
    case DType::F16:
      return MPSDataTypeFloat16;
    case DType::BF16:
      return MPSDataTypeBFloat16;
    case DType::I32:
      return MPSDataTypeInt32;
    case DType::U32:
      return MPSDataTypeUInt32;
    case DType::I8:
      return MPSDataTypeInt8;
    case DType::U8:
      return MPSDataTypeUInt8;
    case DType::I64:
      return MPSDataTypeInt64;
    case DType::Q8_0:
    case DType::Q4_0:
      break;
  }
  throw DTypeError(std::string("MPSGraph has no ") + dtype_name(t) +
                   " tensors: dequantize before the graph");
}

// A rank-0 tensor is [1], as pytorch's getMPSShape (OperationUtils.mm) makes it; it broadcasts
// the same way.
MPSShape* mps_shape(const std::vector<int64_t>& shape) {
  if (shape.empty()) return @[ @1 ];
  NSMutableArray<NSNumber*>* out = [NSMutableArray arrayWithCapacity:shape.size()];
  for (int64_t d : shape) [out addObject:@(d)];
  return out;
}

NSArray<NSNumber*>* mps_axes(const std::vector<int64_t>& axes) {
  NSMutableArray<NSNumber*>* out = [NSMutableArray arrayWithCapacity:axes.size()];
  for (int64_t a : axes) [out addObject:@(a)];
  return out;
}

size_t element_count(const std::vector<int64_t>& shape) {
  size_t n = 1;
  for (int64_t d : shape) n *= static_cast<size_t>(d);
  return n;
}

std::string describe_node(NodeId id, const Node& n) {
  return "graph node " + std::to_string(id) + " (" + graph::node_kind_name(n.kind) + ")";
}

MPSGraphTensor* swap_last_two(MPSGraph* g, MPSGraphTensor* x, size_t rank) {
  return [g transposeTensor:x dimension:rank - 2 withDimension:rank - 1 name:nil];
}

// The IR's rule for a row that sees no key (every score -inf): its result is 0, as on the host
// device and in the legacy kernels, where MPSGraph's softmax gives NaN. `row_max` is the maximum
// of the row's scores (or mask) with the reduced axis kept; `out` is zeroed where it is -inf.
MPSGraphTensor* zero_rows_without_keys(MPSGraph* g, MPSGraphTensor* out, MPSGraphTensor* row_max,
                                       MPSShape* out_shape) {
  MPSGraphTensor* minus_inf = [g constantWithScalar:-INFINITY
                                              shape:@[ @1 ]
                                           dataType:row_max.dataType];
  // pytorch operations/LossOps.mm (nll_loss: equalWithPrimaryTensor:secondaryTensor:name:).
  MPSGraphTensor* hidden = [g equalWithPrimaryTensor:row_max secondaryTensor:minus_inf name:nil];
  hidden = [g broadcastTensor:hidden toShape:out_shape name:nil];
  MPSGraphTensor* zero = [g constantWithScalar:0.0 shape:@[ @1 ] dataType:out.dataType];
  return [g selectWithPredicateTensor:hidden
                  truePredicateTensor:zero
                 falsePredicateTensor:out
                                 name:nil];
}

// MPSGraph's fused attention (macOS 15) takes q (B,H,Sq,D), k and v (B,H,Skv,D) and an additive
// mask. It pairs query head h with key head h (pytorch Attention.mm repeats K/V for GQA: "MPSGraph
// matmul requires matched head counts"). Query head h reads KV head h / G (docs/attention.md), so
// the G query heads of a KV head are consecutive: folding them into the query axis, (B,Hkv,G*Sq,D),
// is exact (rows are independent) and reads each K/V head once instead of repeating it.
MPSGraphTensor* lower_attention(MPSGraph* g, const graph::Graph& graph, NodeId id,
                                const std::vector<MPSGraphTensor*>& t) {
  const Node& n = graph.node(id);
#if defined(__MAC_15_0) && __MAC_OS_X_VERSION_MAX_ALLOWED >= __MAC_15_0
  if (@available(macOS 15.0, *)) {
    const Node& q = graph.node(n.inputs[0]);
    const int64_t batch = q.shape[0], heads = q.shape[1], rows = q.shape[2], dim = q.shape[3];
    const int64_t kv_heads = graph.node(n.inputs[1]).shape[1];
    const int64_t keys = graph.node(n.inputs[1]).shape[2];
    const int64_t group = heads / kv_heads;
    MPSGraphTensor* query = t[n.inputs[0]];
    MPSGraphTensor* mask = nil;
    if (n.inputs.size() > 3) {
      const Node& m = graph.node(n.inputs[3]);
      mask = t[n.inputs[3]];
      if (m.dtype != q.dtype) mask = [g castTensor:mask toType:mps_type(q.dtype) name:nil];
      // Rank 4 (the mask broadcasts from the right): Apple documents no broadcasting of ranks.
      std::vector<int64_t> padded(4 - m.shape.size(), 1);
      padded.insert(padded.end(), m.shape.begin(), m.shape.end());
      mask = [g reshapeTensor:mask withShape:mps_shape(padded) name:nil];
      if (group > 1) {
        mask = [g broadcastTensor:mask toShape:@[ @(batch), @(heads), @(rows), @(keys) ] name:nil];
        mask = [g reshapeTensor:mask
                      withShape:@[ @(batch), @(kv_heads), @(group * rows), @(keys) ]
                           name:nil];
      }
    }
    if (group > 1) {
      query = [g reshapeTensor:query
                     withShape:@[ @(batch), @(kv_heads), @(group * rows), @(dim) ]
                          name:nil];
    }
    const float scale = static_cast<float>(n.value);
    MPSGraphTensor* out = mask ? [g scaledDotProductAttentionWithQueryTensor:query
                                                                   keyTensor:t[n.inputs[1]]
                                                                 valueTensor:t[n.inputs[2]]
                                                                  maskTensor:mask
                                                                       scale:scale
                                                                        name:nil]
                               : [g scaledDotProductAttentionWithQueryTensor:query
                                                                   keyTensor:t[n.inputs[1]]
                                                                 valueTensor:t[n.inputs[2]]
                                                                       scale:scale
                                                                        name:nil];
    if (mask) {
      MPSGraphTensor* row_max = [g reductionMaximumWithTensor:mask axes:@[ @3 ] name:nil];
      out = zero_rows_without_keys(g, out, row_max,
                                   @[ @(batch), @(kv_heads), @(group * rows), @(dim) ]);
    }
    if (group > 1) out = [g reshapeTensor:out withShape:mps_shape(n.shape) name:nil];
    return out;
  }
#else
  (void)g;
  (void)t;
#endif
  throw DeviceError(describe_node(id, n) +
                    ": MPSGraph's fused scaled-dot-product attention needs macOS 15 or later; "
                    "build the unfused form where Device::graph_has_fused_attention() is false");
}

// The MPSGraph tensor of node `id`, whose inputs are already lowered into `t`.
MPSGraphTensor* lower(MPSGraph* g, const graph::Graph& graph, NodeId id,
                      const std::vector<MPSGraphTensor*>& t) {
  const Node& n = graph.node(id);
  const MPSDataType type = mps_type(n.dtype);
  auto in = [&](size_t i) { return t[n.inputs[i]]; };
  auto in_rank = [&](size_t i) { return graph.node(n.inputs[i]).shape.size(); };
  switch (n.kind) {
    case NodeKind::Placeholder:
      return [g placeholderWithShape:mps_shape(n.shape) dataType:type name:to_ns(n.name)];
    case NodeKind::Constant:
      return [g constantWithScalar:n.value shape:mps_shape(n.shape) dataType:type];
    case NodeKind::MatMul: {
      MPSGraphTensor* a = n.transpose_a ? swap_last_two(g, in(0), in_rank(0)) : in(0);
      MPSGraphTensor* b = n.transpose_b ? swap_last_two(g, in(1), in_rank(1)) : in(1);
      return [g matrixMultiplicationWithPrimaryTensor:a secondaryTensor:b name:nil];
    }
    case NodeKind::Add:
      return [g additionWithPrimaryTensor:in(0) secondaryTensor:in(1) name:nil];
    case NodeKind::Sub:
      return [g subtractionWithPrimaryTensor:in(0) secondaryTensor:in(1) name:nil];
    case NodeKind::Mul:
      return [g multiplicationWithPrimaryTensor:in(0) secondaryTensor:in(1) name:nil];
    case NodeKind::Div:
      return [g divisionWithPrimaryTensor:in(0) secondaryTensor:in(1) name:nil];
    case NodeKind::Maximum:
      return [g maximumWithPrimaryTensor:in(0) secondaryTensor:in(1) name:nil];
    case NodeKind::Scale: {
      // A [1] constant broadcast over x, as pytorch Attention.mm scales its scores.
      MPSGraphTensor* factor = [g constantWithScalar:n.value shape:@[ @1 ] dataType:type];
      return [g multiplicationWithPrimaryTensor:in(0) secondaryTensor:factor name:nil];
    }
    case NodeKind::Exp:
      return [g exponentWithTensor:in(0) name:nil];
    case NodeKind::CausalMask: {
      // As pytorch Attention.mm builds its causal mask: a (Sq, Skv) boolean band that keeps key
      // column c of query row r where c - r <= offset, and -inf selected elsewhere.
      if (n.offset < 0) {
        throw ArgumentError(describe_node(id, n) + ": offset " + std::to_string(n.offset) +
                            " is negative; it counts keys that precede the first query");
      }
      const size_t rank = n.shape.size();
      MPSGraphTensor* ones = [g constantWithScalar:1.0
                                             shape:@[ @(n.shape[rank - 2]), @(n.shape[rank - 1]) ]
                                          dataType:MPSDataTypeBool];
      MPSGraphTensor* keep = [g bandPartWithTensor:ones
                                          numLower:-1
                                          numUpper:static_cast<NSInteger>(n.offset)
                                              name:nil];
      MPSGraphTensor* minus_inf = [g constantWithScalar:-INFINITY shape:@[ @1 ] dataType:type];
      return [g selectWithPredicateTensor:keep
                      truePredicateTensor:in(0)
                     falsePredicateTensor:minus_inf
                                     name:nil];
    }
    case NodeKind::AdditiveMask: {
      MPSGraphTensor* mask = in(1);
      if (graph.node(n.inputs[1]).dtype != n.dtype) {
        mask = [g castTensor:mask toType:type name:nil];
      }
      return [g additionWithPrimaryTensor:in(0) secondaryTensor:mask name:nil];
    }
    case NodeKind::Softmax: {
      MPSGraphTensor* out = [g softMaxWithTensor:in(0)
                                            axis:static_cast<NSInteger>(n.axes[0])
                                            name:nil];
      MPSGraphTensor* row_max = [g reductionMaximumWithTensor:in(0) axes:mps_axes(n.axes) name:nil];
      return zero_rows_without_keys(g, out, row_max, mps_shape(n.shape));
    }
    case NodeKind::ReduceMax:
      // pytorch operations/ReduceOps.mm (amax): reductions keep each reduced axis with size 1.
      return [g reductionMaximumWithTensor:in(0) axes:mps_axes(n.axes) name:nil];
    case NodeKind::ReduceSum:
      return [g reductionSumWithTensor:in(0) axes:mps_axes(n.axes) name:nil];
    case NodeKind::Cast:
      return [g castTensor:in(0) toType:type name:nil];
    case NodeKind::Transpose:
      if (n.axes.empty()) return in(0);  // rank 0: nothing to permute
      // executorch operations/ShapeOps.mm (mpsPermuteOp).
      return [g transposeTensor:in(0) permutation:mps_axes(n.axes) name:nil];
    case NodeKind::Reshape:
      return [g reshapeTensor:in(0) withShape:mps_shape(n.shape) name:nil];
    case NodeKind::ScaledDotProductAttention:
      return lower_attention(g, graph, id, t);
  }
  throw ArgumentError(describe_node(id, n) + ": the Metal device cannot lower this node kind");
}

// Why the Metal device cannot run `graph` as given, or "" when it can. Every output empty is
// fine (nothing to run); an empty tensor feeding a non-empty output is not (MPSGraph's handling
// of zero-sized dimensions is unspecified).
std::string unsupported(const graph::Graph& graph, bool* nothing_to_run) {
  const auto& outputs = graph.outputs();
  if (outputs.empty()) return "the graph has no outputs (Graph::set_outputs)";
  for (size_t i = 0; i < outputs.size(); ++i) {
    if (graph.node(outputs[i]).kind == NodeKind::Placeholder) {
      return "output " + std::to_string(i) + " is a placeholder; copy the input instead";
    }
    for (size_t j = 0; j < i; ++j) {
      if (outputs[j] == outputs[i]) {
        return "output " + std::to_string(i) + " repeats output " + std::to_string(j) +
               "; each result is bound to one buffer";
      }
    }
  }
  *nothing_to_run = true;
  for (NodeId o : outputs) {
    if (element_count(graph.node(o).shape) != 0) *nothing_to_run = false;
  }
  if (*nothing_to_run) return "";
  for (NodeId id = 0; id < graph.nodes().size(); ++id) {
    if (element_count(graph.node(id).shape) == 0) {
      return describe_node(id, graph.node(id)) +
             " is empty while an output is not; MPSGraph does not define zero-sized "
             "dimensions, so compute such results without the graph";
    }
  }
  return "";
}

class MetalGraphExecutable final : public GraphExecutable {
 public:
  MetalGraphExecutable(graph::Graph graph, MPSGraphExecutable* executable,
                       std::vector<size_t> feed_order, std::vector<size_t> target_order)
      : graph_(std::move(graph)),
        executable_(executable),
        feed_order_(std::move(feed_order)),
        target_order_(std::move(target_order)) {}
  const graph::Graph& graph() const override { return graph_; }
  /// nil when every output is empty: there is nothing to run.
  MPSGraphExecutable* mps() const { return executable_; }
  /// The placeholder index of each of mps().feedTensors (the order of inputsArray).
  const std::vector<size_t>& feed_order() const { return feed_order_; }
  /// The output index of each of mps().targetTensors (the order of resultsArray).
  const std::vector<size_t>& target_order() const { return target_order_; }

 private:
  graph::Graph graph_;
  MPSGraphExecutable* executable_;
  std::vector<size_t> feed_order_;
  std::vector<size_t> target_order_;
};

// Where each tensor of `order_of` sits in `ours` (MPSGraphExecutable reorders feeds and targets).
std::vector<size_t> positions(NSArray<MPSGraphTensor*>* order_of,
                              const std::vector<MPSGraphTensor*>& ours, const char* what) {
  std::vector<size_t> out;
  for (MPSGraphTensor* tensor in order_of) {
    size_t i = 0;
    while (i < ours.size() && ours[i] != tensor) ++i;
    if (i == ours.size()) {
      throw DeviceError(std::string("the compiled MPSGraph has a ") + what +
                        " tensor that the graph did not give it");
    }
    out.push_back(i);
  }
  return out;
}

// --- execution ----------------------------------------------------------------------------------

struct BufferCopy {
  id<MTLBuffer> from;
  size_t from_offset;
  id<MTLBuffer> to;
  size_t to_offset;
  size_t bytes;
};

size_t binding_bytes(const Node& n) {
  return dtype_nbytes(n.dtype, element_count(n.shape));
}

void check_binding(const std::string& what, const GraphTensorBinding& b, const Node& n) {
  if (!b.buffer) throw ArgumentError(what + " has no buffer");
  if (!dynamic_cast<MetalBuffer*>(b.buffer.get())) {
    throw ArgumentError(what + " was not allocated by the Metal device");
  }
  if (b.offset % dtype_size(n.dtype) != 0) {
    throw ArgumentError(what + ": offset " + std::to_string(b.offset) +
                        " is not a multiple of the element size " +
                        std::to_string(dtype_size(n.dtype)));
  }
  if (b.offset + binding_bytes(n) > b.buffer->length()) {
    throw ArgumentError(what + " (" + std::to_string(binding_bytes(n)) + " bytes at offset " +
                        std::to_string(b.offset) + ") runs past the end of its " +
                        std::to_string(b.buffer->length()) + "-byte buffer");
  }
}

id<MTLBuffer> mtl(const GraphTensorBinding& b) {
  return static_cast<MetalBuffer*>(b.buffer.get())->mtl();
}

// An MPSGraph executable reads all its inputs and writes its outputs in whatever order it likes,
// so an output that overlaps an input would be silently wrong.
void check_no_alias(const std::string& where, const GraphCommand& c, const graph::Graph& g) {
  for (size_t o = 0; o < c.outputs.size(); ++o) {
    const size_t o_end = c.outputs[o].offset + binding_bytes(g.node(g.outputs()[o]));
    for (size_t i = 0; i < c.inputs.size(); ++i) {
      const size_t i_end = c.inputs[i].offset + binding_bytes(g.node(g.placeholders()[i]));
      if (mtl(c.outputs[o]) == mtl(c.inputs[i]) && c.outputs[o].offset < i_end &&
          c.inputs[i].offset < o_end) {
        throw ArgumentError(where + "output " + std::to_string(o) + " overlaps input " +
                            std::to_string(i) + "; graph results need their own memory");
      }
    }
  }
}

// The MPSGraphTensorData of one binding. At offset 0 it wraps the buffer (pytorch
// OperationUtils.mm: initWithMTLBuffer:shape:dataType:). Otherwise macOS 15 wraps an MPSNDArray
// at that offset (pytorch Placeholder, which also sets preferPackedRows: our rows are packed);
// macOS 14 has no such initializer, so the data goes through a scratch buffer that `copies` fills
// (an input: before the graph) or empties (an output: after it).
MPSGraphTensorData* tensor_data(DeviceState& state, const std::string& what,
                                const GraphTensorBinding& b, const Node& n, bool is_output,
                                std::vector<BufferCopy>* copies, NSMutableArray* scratch) {
  MPSShape* shape = mps_shape(n.shape);
  const MPSDataType type = mps_type(n.dtype);
  if (b.offset == 0) {
    return [[MPSGraphTensorData alloc] initWithMTLBuffer:mtl(b) shape:shape dataType:type];
  }
#if defined(__MAC_15_0) && __MAC_OS_X_VERSION_MAX_ALLOWED >= __MAC_15_0
  if (@available(macOS 15.0, *)) {
    MPSNDArrayDescriptor* desc = [MPSNDArrayDescriptor descriptorWithDataType:type shape:shape];
    desc.preferPackedRows = YES;
    MPSNDArray* array = [[MPSNDArray alloc] initWithBuffer:mtl(b) offset:b.offset descriptor:desc];
    if (!array) throw DeviceError(what + ": MPS could not wrap the buffer at its offset");
    return [[MPSGraphTensorData alloc] initWithMPSNDArray:array];
  }
#endif
  // Blits on macOS copy whole 4-byte words (executorch MPSExecutor.mm: "4 bytes alignment
  // required on MacOS for blits").
  const size_t bytes = binding_bytes(n);
  if (b.offset % 4 != 0 || bytes % 4 != 0) {
    throw ArgumentError(what +
                        ": before macOS 15 a graph tensor that does not start its buffer "
                        "needs an offset and size in whole 4-byte words (offset " +
                        std::to_string(b.offset) + ", " + std::to_string(bytes) +
                        " bytes); copy it to a tensor of its own");
  }
  id<MTLBuffer> staging = [state.device newBufferWithLength:bytes
                                                    options:MTLResourceStorageModePrivate];
  if (!staging) throw DeviceError(what + ": could not allocate a scratch buffer");
  [scratch addObject:staging];
  if (is_output) {
    copies->push_back({staging, 0, mtl(b), b.offset, bytes});
  } else {
    copies->push_back({mtl(b), b.offset, staging, 0, bytes});
  }
  return [[MPSGraphTensorData alloc] initWithMTLBuffer:staging shape:shape dataType:type];
}

void encode_copies(id<MTLCommandBuffer> cb, const std::vector<BufferCopy>& copies) {
  if (copies.empty()) return;
  id<MTLBlitCommandEncoder> blit = [cb blitCommandEncoder];
  for (const BufferCopy& c : copies) {
    [blit copyFromBuffer:c.from
             sourceOffset:c.from_offset
                 toBuffer:c.to
        destinationOffset:c.to_offset
                     size:c.bytes];
  }
  [blit endEncoding];
}

}  // namespace

bool metal_graph_has_fused_attention() {
#if defined(__MAC_15_0) && __MAC_OS_X_VERSION_MAX_ALLOWED >= __MAC_15_0
  if (@available(macOS 15.0, *)) return true;
#endif
  return false;
}

GraphExecutablePtr compile_metal_graph(DeviceState& state, const graph::Graph& graph) {
  @autoreleasepool {
    require_mps(state, "MPSGraph");
    bool nothing_to_run = false;
    const std::string why = unsupported(graph, &nothing_to_run);
    if (!why.empty()) throw ArgumentError("compile_graph: " + why);
    if (nothing_to_run) {
      return std::make_shared<MetalGraphExecutable>(graph, static_cast<MPSGraphExecutable*>(nil),
                                                    std::vector<size_t>{}, std::vector<size_t>{});
    }

    MPSGraph* g = [MPSGraph new];
    std::vector<MPSGraphTensor*> t(graph.nodes().size(), nil);
    std::vector<MPSGraphTensor*> placeholders, targets;
    NSMutableDictionary<MPSGraphTensor*, MPSGraphShapedType*>* feeds =
        [NSMutableDictionary dictionary];
    for (NodeId id = 0; id < graph.nodes().size(); ++id) t[id] = lower(g, graph, id, t);
    for (NodeId id : graph.placeholders()) {
      const Node& n = graph.node(id);
      placeholders.push_back(t[id]);
      feeds[t[id]] = [[MPSGraphShapedType alloc] initWithShape:mps_shape(n.shape)
                                                      dataType:mps_type(n.dtype)];
    }
    NSMutableArray<MPSGraphTensor*>* target_array = [NSMutableArray array];
    for (NodeId id : graph.outputs()) {
      targets.push_back(t[id]);
      [target_array addObject:t[id]];
    }
    // executorch MPSGraphBuilder.mm (getMPSGraphExecutable): no compilation descriptor.
    MPSGraphExecutable* executable =
        [g compileWithDevice:[MPSGraphDevice deviceWithMTLDevice:state.device]
                            feeds:feeds
                    targetTensors:target_array
                 targetOperations:nil
            compilationDescriptor:nil];
    if (!executable) {
      throw DeviceError("compile_graph: MPSGraph could not compile the graph:\n" +
                        graph.describe());
    }
    // Executions pass inputs in feedTensors order and results in targetTensors order
    // (MPSGraphExecutable.h), which need not be the order the graph gave them.
    std::vector<size_t> feed_order = positions(executable.feedTensors, placeholders, "feed");
    std::vector<size_t> target_order = positions(executable.targetTensors, targets, "target");
    return std::make_shared<MetalGraphExecutable>(graph, executable, std::move(feed_order),
                                                  std::move(target_order));
  }
}

void encode_metal_graph(MetalCommandBuffer& cb, const GraphCommand& c) {
  @autoreleasepool {
    const std::string where = "graph '" + c.label + "': ";
    auto* exe = dynamic_cast<const MetalGraphExecutable*>(c.executable.get());
    if (!exe) {
      throw ArgumentError(where + "the executable was not compiled by the Metal device");
    }
    const graph::Graph& g = exe->graph();
    if (c.inputs.size() != g.placeholders().size() || c.outputs.size() != g.outputs().size()) {
      throw ArgumentError(where + "the graph has " + std::to_string(g.placeholders().size()) +
                          " placeholders and " + std::to_string(g.outputs().size()) +
                          " outputs, but " + std::to_string(c.inputs.size()) + " inputs and " +
                          std::to_string(c.outputs.size()) + " outputs were bound");
    }
    std::vector<std::string> input_names, output_names;
    for (size_t i = 0; i < c.inputs.size(); ++i) {
      const Node& n = g.node(g.placeholders()[i]);
      input_names.push_back(where + "input " + std::to_string(i) + " ('" + n.name + "')");
      check_binding(input_names.back(), c.inputs[i], n);
    }
    for (size_t i = 0; i < c.outputs.size(); ++i) {
      output_names.push_back(where + "output " + std::to_string(i));
      check_binding(output_names.back(), c.outputs[i], g.node(g.outputs()[i]));
    }
    check_no_alias(where, c, g);
    if (!exe->mps()) return;  // every output is empty

    // Wrap every binding before encoding anything, so that a bad one encodes nothing.
    std::vector<BufferCopy> copy_in, copy_out;
    NSMutableArray* scratch = [NSMutableArray array];
    NSMutableArray<MPSGraphTensorData*>* inputs = [NSMutableArray array];
    NSMutableArray<MPSGraphTensorData*>* results = [NSMutableArray array];
    for (size_t i : exe->feed_order()) {
      [inputs addObject:tensor_data(cb.state(), input_names[i], c.inputs[i],
                                    g.node(g.placeholders()[i]), false, &copy_in, scratch)];
    }
    for (size_t i : exe->target_order()) {
      [results addObject:tensor_data(cb.state(), output_names[i], c.outputs[i],
                                     g.node(g.outputs()[i]), true, &copy_out, scratch)];
    }

    id<MTLCommandBuffer> native = cb.begin_external_pass(c.label);
    encode_copies(native, copy_in);
    // MPSGraph encodes into an MPSCommandBuffer, which may commit the work so far and continue in
    // a new command buffer on the same queue (commitAndContinue); the queue keeps the order.
    MPSCommandBuffer* mps = [MPSCommandBuffer commandBufferWithCommandBuffer:native];
    // executorch MPSExecutor.mm (forward): no execution descriptor.
    [exe->mps() encodeToCommandBuffer:mps
                          inputsArray:inputs
                         resultsArray:results
                  executionDescriptor:nil];
    cb.continue_in(mps.rootCommandBuffer);
    encode_copies(mps.rootCommandBuffer, copy_out);

    for (const GraphTensorBinding& b : c.inputs) cb.keep_alive(b.buffer);
    for (const GraphTensorBinding& b : c.outputs) cb.keep_alive(b.buffer);
    cb.keep_alive(exe->mps());
    cb.keep_alive(inputs);
    cb.keep_alive(results);
    cb.keep_alive(scratch);
    cb.keep_alive(mps);
  }
}

}  // namespace metallic::metal
