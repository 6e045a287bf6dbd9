// Host side of matmul: validation, broadcasting, the backend choice, and the four paths (MSL
// GEMM, MSL GEMV through MatmulQ8GemvOp, the device library's MatmulCommand, the matmul graph
// kernel).
#include "metallic/ops/matmul.hpp"

#include <algorithm>
#include <limits>

#include "metallic/backend_registry.hpp"
#include "metallic/error.hpp"
#include "metallic/graph_kernel.hpp"
#include "metallic/kernel_variants.hpp"
#include "metallic/op_registry.hpp"
#include "metallic/ops/matmul_q8_gemv.hpp"

namespace metallic {

namespace {
using uint = uint32_t;
#include "matmul/params.h"

const bool kRegistered =
    KernelBackendRegistry::register_backend("matmul", "msl") &&
    KernelBackendRegistry::register_backend("matmul", "mps", BackendDevices::MetalOnly) &&
    KernelBackendRegistry::register_backend("matmul", "blas", BackendDevices::HostOnly) &&
    KernelBackendRegistry::register_backend("matmul", "mpsgraph");

/// alpha · op(a) @ op(b) in the accumulator dtype, batch dimensions broadcast.
graph::Graph build_matmul_graph(const GraphKernelKey& key) {
  graph::Graph g;
  const graph::NodeId a = accumulator_input(g, key, 0, "a"), b = accumulator_input(g, key, 1, "b");
  graph::NodeId out =
      g.matmul(a, b, key.attribute("transpose_a") != 0, key.attribute("transpose_b") != 0);
  const double alpha = key.attribute("alpha");
  if (alpha != 1.0) out = g.scale(out, alpha);
  set_storage_output(g, key, out);
  return g;
}

const GraphKernel& kGraphKernel = GraphKernel::register_kernel(
    "matmul",
    {{{"a", "(..., M, K), (..., K, M) with transpose_a", false, "left operand"},
      {"b", "(..., K, N), (..., N, K) with transpose_b", false,
       "right operand; batch dimensions broadcast with a's"}},
     {{"out", "(..., M, N)", false, "alpha · op(a) @ op(b)"}},
     {{DType::F32, DType::F32}, {DType::F16, DType::F32}},
     {"attributes: transpose_a, transpose_b, alpha",
      "no quantized weights and no beta · c: "
      "the msl backend has those"}},
    build_matmul_graph);

const KernelVariants kGemmKernels("matmul_gemm", {""});

constexpr int64_t kGemvMaxRows = 8;  // M up to this many rows runs as a GEMV
constexpr uint32_t kTile = 32;       // kTileM = kTileN in metal/matmul/kernel.metal

int64_t product(const Shape& s) {
  int64_t p = 1;
  for (int64_t d : s) p *= d;
  return p;
}

/// Whether batch dimensions `x`, without their leading 1s, are the trailing dimensions of `out`:
/// then batch entry i of the output uses entry i % product(x) of that operand.
bool repeats_over(const Shape& x, const Shape& out) {
  size_t skip = 0;
  while (skip < x.size() && x[skip] == 1) skip++;
  const size_t n = x.size() - skip;
  return n <= out.size() && std::equal(x.begin() + static_cast<ptrdiff_t>(skip), x.end(),
                                       out.end() - static_cast<ptrdiff_t>(n));
}

/// The batch shape a's and b's batch dimensions broadcast to, as numpy broadcasts them. The
/// kernels index each operand's batch entries cyclically (i % count), which covers an operand
/// whose batch shape is a trailing part of the other's; anything else (e.g. [2, 1] against
/// [1, 3]) asks the caller to expand an operand first.
Shape broadcast_batch(const Shape& a, const Shape& b) {
  const size_t rank = std::max(a.size(), b.size());
  Shape out(rank, 1);
  bool ok = true;
  for (size_t i = 0; i < rank; ++i) {
    const int64_t da = i + a.size() < rank ? 1 : a[i + a.size() - rank];
    const int64_t db = i + b.size() < rank ? 1 : b[i + b.size() - rank];
    ok = ok && (da == db || da == 1 || db == 1);
    out[i] = da == 1 ? db : da;
  }
  if (!ok || !repeats_over(a, out) || !repeats_over(b, out)) {
    throw ShapeError("matmul: batch dimensions " + shape_str(a) + " and " + shape_str(b) +
                     " do not broadcast (one must equal the other, or a trailing part of it, or "
                     "hold a single matrix; expand an operand first)");
  }
  return out;
}
}  // namespace

MatmulCommand matmul_command(const MatmulDims& d, bool transpose_a, bool transpose_b, double alpha,
                             double beta, DType dtype, int64_t batch, bool b_batched) {
  MatmulCommand c;
  c.m = static_cast<uint32_t>(d.m);
  c.n = static_cast<uint32_t>(d.n);
  c.k = static_cast<uint32_t>(d.k);
  c.transpose_a = transpose_a;
  c.transpose_b = transpose_b;
  c.alpha = alpha;
  c.beta = beta;
  c.dtype = dtype;
  c.batch = static_cast<uint32_t>(batch);
  c.a_batch_stride = static_cast<size_t>(d.m * d.k);
  c.b_batch_stride = b_batched ? static_cast<size_t>(d.k * d.n) : 0;
  c.c_batch_stride = static_cast<size_t>(d.m * d.n);
  return c;
}

MatmulDims matmul_dims(const char* op, const Tensor& a, const Tensor& b, bool transpose_a,
                       bool transpose_b) {
  if (a.ndim() < 2 || b.ndim() < 2) {
    throw ShapeError(std::string(op) + ": a and b need at least 2 dimensions, got " +
                     shape_str(a.shape()) + " and " + shape_str(b.shape()) +
                     " (reshape a vector to [1, K] or [K, 1])");
  }
  if (!a.is_contiguous() || !b.is_contiguous()) {
    throw ShapeError(std::string(op) +
                     ": inputs must be contiguous (use transpose_a/transpose_b instead of "
                     "transposed views, or call .contiguous() first)");
  }
  const int64_t m = transpose_a ? a.dim(-1) : a.dim(-2);
  const int64_t k = transpose_a ? a.dim(-2) : a.dim(-1);
  const int64_t kb = transpose_b ? b.dim(-1) : b.dim(-2);
  const int64_t n = transpose_b ? b.dim(-2) : b.dim(-1);
  if (k != kb) {
    throw ShapeError(std::string(op) + ": inner dimensions differ: a " + shape_str(a.shape()) +
                     (transpose_a ? " (transposed)" : "") + " and b " + shape_str(b.shape()) +
                     (transpose_b ? " (transposed)" : ""));
  }
  return {m, n, k};
}

std::pair<MatmulOp::Operation, Tensor> MatmulOp::create(Context& ctx, const Args& args) {
  const Tensor& a = args.a;
  const Tensor& b = args.b;
  if (!a.defined() || !b.defined()) throw ArgumentError("matmul: undefined tensor");
  const bool quantized = dtype_is_quantized(b.dtype());
  if (!dtype_is_float(a.dtype())) {
    throw DTypeError(std::string("matmul: a must be f32, f16 or bf16, got ") +
                     dtype_name(a.dtype()));
  }
  if (!quantized && a.dtype() != b.dtype()) {
    throw DTypeError(std::string("matmul: dtypes differ (") + dtype_name(a.dtype()) + " and " +
                     dtype_name(b.dtype()) + "); convert one of them first");
  }
  if (quantized && (b.ndim() != 2 || !args.transpose_b || args.transpose_a)) {
    throw ArgumentError(
        std::string("matmul: a ") + dtype_name(b.dtype()) +
        " weight W must be 2-d [N, K] and used as matmul(x, W, transpose_b=True) (= x @ W^T), "
        "with a not transposed");
  }
  const auto [m, n, k] = matmul_dims("matmul", a, b, args.transpose_a, args.transpose_b);
  const Shape a_batch(a.shape().begin(), a.shape().end() - 2);
  const Shape b_batch(b.shape().begin(), b.shape().end() - 2);
  const Shape batch_shape = broadcast_batch(a_batch, b_batch);
  const int64_t batch = product(batch_shape);
  Shape out_shape = batch_shape;
  out_shape.push_back(m);
  out_shape.push_back(n);
  const int64_t limit = std::numeric_limits<uint32_t>::max();
  if (a.numel() > limit || b.numel() > limit || product(out_shape) > limit) {
    throw ShapeError("matmul: tensors must have fewer than 2^32 elements");
  }
  if (args.beta != 0.0) {
    if (!args.c || !args.c->defined()) {
      throw ArgumentError("matmul: beta != 0 needs c (the tensor added as beta * c)");
    }
    if (args.c->shape() != out_shape || args.c->dtype() != a.dtype() || !args.c->is_contiguous()) {
      throw ShapeError("matmul: c must be a contiguous " + std::string(dtype_name(a.dtype())) +
                       " tensor of the output's shape " + shape_str(out_shape) + ", got " +
                       args.c->describe());
    }
  } else if (args.c) {
    throw ArgumentError("matmul: c is given but beta is 0; pass beta (c is added as beta * c)");
  }

  // A GEMV when the rows of a (all batch entries, a not transposed) meet one shared weight.
  const bool shared_b = product(b_batch) == 1;
  const bool gemv_shape = shared_b && !args.transpose_a && args.beta == 0.0;
  const bool few_rows = batch * m <= kGemvMaxRows;
  const DeviceKind device = ctx.device().kind();
  const std::string backend = ctx.backends().select("matmul", device, [&] {
    using Choice = BackendSelector::Choice;
    if (quantized) return Choice{"msl", std::string(dtype_name(b.dtype())) + " weight (GEMV)"};
    if (args.beta != 0.0) return Choice{"msl", "beta != 0 (the MSL kernels read c)"};
    if (device == DeviceKind::Host) return Choice{"blas", "host device: vendor BLAS"};
    if (gemv_shape && few_rows) return Choice{"msl", "M <= 8 (GEMV)"};
    if (a.dtype() == DType::BF16) return Choice{"msl", "bf16 (MPS matmul takes f32 and f16)"};
    return Choice{"mps", "MPSMatrixMultiplication"};
  });
  if (backend != "msl") {
    if (quantized || args.beta != 0.0) {
      throw ArgumentError("matmul: backend '" + backend + "' takes neither quantized weights nor " +
                          "beta != 0; use the msl backend (ctx.set_backend(\"matmul\", \"auto\"))");
    }
    if (backend == "mps" && a.dtype() == DType::BF16) {
      throw DTypeError("matmul: backend 'mps' takes f32 and f16, not bf16; use backend msl");
    }
  }

  Operation op;
  op.a = a;
  op.b = b;
  if (backend == "mpsgraph") {
    op.path = Operation::Path::Graph;
    op.graph = prepare_graph_kernel_call(ctx, kGraphKernel, {a, b}, default_graph_policy(a.dtype()),
                                         {{"transpose_a", args.transpose_a},
                                          {"transpose_b", args.transpose_b},
                                          {"alpha", args.alpha}});
    Tensor out = op.graph->outputs[0];
    return {std::move(op), std::move(out)};
  }
  if (backend == "msl" && gemv_shape && (quantized || few_rows)) {
    // The rows of every batch entry of a meet the same weight: one GEMV over all of them.
    Tensor out = ctx.call<MatmulQ8GemvOp>({a, b, args.transpose_b, args.alpha});
    return {std::move(op), out.reshape(out_shape)};
  }
  Tensor out = ctx.tensor(a.dtype(), out_shape);
  op.out = out;
  op.c = args.c ? *args.c : out;
  op.command = matmul_command({m, n, k}, args.transpose_a, args.transpose_b, args.alpha, args.beta,
                              a.dtype(), batch, true);
  op.a_batches = static_cast<uint32_t>(product(a_batch));
  op.b_batches = static_cast<uint32_t>(product(b_batch));
  if (backend == "msl") {
    op.path = Operation::Path::Gemm;
    op.function = kGemmKernels.get("", a.dtype());
  } else {
    op.path = Operation::Path::Library;
  }
  return {std::move(op), out};
}

void MatmulOp::Operation::encode_library(ComputeKernelEncoder& e) const {
  // A MatmulCommand steps each operand by one stride per batch entry (0: the same matrix). An
  // operand that repeats cyclically (its batch a trailing part of the output's) takes one
  // command per repetition.
  const uint32_t total = command.batch;
  const bool cyclic =
      (a_batches != 1 && a_batches != total) || (b_batches != 1 && b_batches != total);
  const uint32_t inner = cyclic ? std::min(a_batches, b_batches) : total;
  auto entries = [](const Tensor& t, uint32_t count, uint32_t first, uint32_t n) {
    const Tensor flat = t.reshape({count, t.dim(-2), t.dim(-1)});
    return count == 1 ? flat : flat.slice(first % count, first % count + n);
  };
  for (uint32_t first = 0; first < total; first += inner) {
    MatmulCommand part = command;
    part.batch = inner;
    if (a_batches == 1) part.a_batch_stride = 0;
    if (b_batches == 1) part.b_batch_stride = 0;
    e.matmul(part, entries(a, a_batches, first, inner), entries(b, b_batches, first, inner),
             entries(out, total, first, inner));
  }
}

void MatmulOp::Operation::encode(ComputeKernelEncoder& e) const {
  if (path == Path::Graph) {
    graph->encode(e);
    return;
  }
  if (path == Path::Done || out.numel() == 0) return;
  if (path == Path::Library) {
    encode_library(e);
    return;
  }
  const MatmulCommand& c = command;
  const MatmulParams p{c.m,
                       c.n,
                       c.k,
                       c.transpose_a ? c.m : c.k,
                       c.transpose_b ? c.k : c.n,
                       c.n,
                       static_cast<uint>(c.a_batch_stride),
                       static_cast<uint>(c.b_batch_stride),
                       static_cast<uint>(c.c_batch_stride),
                       a_batches,
                       b_batches,
                       c.transpose_a ? 1u : 0u,
                       c.transpose_b ? 1u : 0u,
                       static_cast<float>(c.alpha),
                       static_cast<float>(c.beta)};
  e.pipeline(function)
      .buffer(0, a)
      .buffer(1, b)
      .buffer(2, this->c)
      .buffer(3, out)
      .bytes(4, p)
      .dispatch_custom({(c.n + kTile - 1) / kTile, (c.m + kTile - 1) / kTile, c.batch},
                       {128, 1, 1});
}

METALLIC_REGISTER_OP(
    MatmulOp, "matmul",
    "alpha * op(a) @ op(b) + beta * c over broadcast batch dimensions; b may be a q8_0/q4_0 "
    "weight [N, K] used with transpose_b=True (= a @ W^T). Backends: msl, mps (Metal), blas "
    "(host), mpsgraph.",
    METALLIC_ARG(a, "[..., M, K] ([..., K, M] with transpose_a); f32, f16 or bf16"),
    METALLIC_ARG(b, "[..., K, N] ([..., N, K] with transpose_b), a's dtype, or q8_0/q4_0 [N, K]"),
    METALLIC_ARG(transpose_a, "a is stored transposed"),
    METALLIC_ARG(transpose_b, "b is stored transposed"),
    METALLIC_ARG(alpha, "scale of the product"),
    METALLIC_ARG(beta, "scale of c, added to the product"),
    METALLIC_ARG(c, "tensor of the output's shape, added as beta * c"));

}  // namespace metallic
