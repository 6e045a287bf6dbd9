// Tests of the graph IR's builder (cpp/src/core/graph.cpp): inferred shapes and dtypes, numpy
// broadcasting, normalised axes, describe(), and the errors of mismatched operands, which must
// name the node kind and the shapes. Built and run by tests/graph/test_builder.py.
#include <cstdio>
#include <functional>
#include <string>

#include "metallic/error.hpp"
#include "metallic/graph.hpp"

using metallic::DType;
using namespace metallic::graph;

static int g_failures = 0;
#define CHECK(...)                                                                         \
  do {                                                                                     \
    if (!(__VA_ARGS__)) {                                                                  \
      std::fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #__VA_ARGS__); \
      ++g_failures;                                                                        \
    }                                                                                      \
  } while (0)

/// Checks that `build` throws E with a message containing every one of `parts`.
template <class E>
static void check_throws(int line, const std::function<void()>& build,
                         std::initializer_list<const char*> parts) {
  try {
    build();
  } catch (const E& e) {
    for (const char* part : parts) {
      if (std::string(e.what()).find(part) == std::string::npos) {
        std::fprintf(stderr, "line %d: '%s' lacks '%s'\n", line, e.what(), part);
        ++g_failures;
      }
    }
    return;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "line %d: wrong exception: %s\n", line, e.what());
    ++g_failures;
    return;
  }
  std::fprintf(stderr, "line %d: no exception\n", line);
  ++g_failures;
}
#define SHAPE_ERROR(build, ...) \
  check_throws<metallic::ShapeError>(__LINE__, [&] { build; }, {__VA_ARGS__})
#define DTYPE_ERROR(build, ...) \
  check_throws<metallic::DTypeError>(__LINE__, [&] { build; }, {__VA_ARGS__})

using Dims = std::vector<int64_t>;

static void inference() {
  Graph g;
  const NodeId a = g.placeholder("a", DType::F32, {2, 1, 5});
  const NodeId b = g.placeholder("b", DType::F32, {3, 1});
  CHECK(g.node(g.add(a, b)).shape == Dims{2, 3, 5});  // numpy broadcasting
  CHECK(g.node(g.maximum(b, g.constant(0.0, DType::F32))).shape == Dims{3, 1});
  const NodeId x = g.placeholder("x", DType::F16, {4, 7, 3});
  const NodeId w = g.placeholder("w", DType::F16, {5, 3});
  const Node& mm = g.node(g.matmul(x, w, false, true));
  CHECK(mm.shape == Dims{4, 7, 5} && mm.dtype == DType::F16);
  CHECK(g.node(g.matmul(x, x, true, false)).shape == Dims{4, 3, 3});
  CHECK(g.node(g.cast(x, DType::F32)).dtype == DType::F32);
  CHECK(g.node(g.softmax(x, -1)).axes == Dims{2});
  const Node& r = g.node(g.reduce_sum(x, {-1, 0}));
  CHECK(r.shape == Dims{1, 7, 1} && r.axes == Dims{0, 2});
  CHECK(g.node(g.transpose(x, {2, 0, -2})).shape == Dims{3, 4, 7});
  CHECK(g.node(g.reshape(x, {28, 3})).shape == Dims{28, 3});
  CHECK(g.placeholders() == std::vector<NodeId>{a, b, x, w});

  const NodeId q = g.placeholder("q", DType::F32, {2, 6, 1, 8});
  const NodeId k = g.placeholder("k", DType::F32, {2, 2, 9, 8});
  const NodeId m = g.placeholder("m", DType::F32, {1, 9});
  const Node& att = g.node(g.scaled_dot_product_attention(q, k, k, m, 0.25));
  CHECK(att.shape == Dims{2, 6, 1, 8} && att.value == 0.25 && att.inputs.size() == 4);
}

static void describe_is_canonical() {
  auto build = [] {
    Graph g;
    const NodeId x = g.placeholder("x", DType::F32, {2, 3});
    g.set_outputs({g.causal_mask(g.scale(x, 0.5), 1)});
    return g.describe();
  };
  CHECK(build() == build());
  CHECK(build() ==
        "%0 = placeholder : f32[2, 3] name=x\n%1 = scale %0 : f32[2, 3] value=0.5\n"
        "%2 = causal_mask %1 : f32[2, 3] offset=1\noutputs %2\n");
  CHECK(std::string(node_kind_name(NodeKind::ScaledDotProductAttention)) ==
        "scaled_dot_product_attention");
}

static void errors() {
  Graph g;
  const NodeId a = g.placeholder("a", DType::F32, {2, 3});
  const NodeId b = g.placeholder("b", DType::F32, {4, 3});
  const NodeId h = g.placeholder("h", DType::F16, {2, 3});
  const NodeId v = g.placeholder("v", DType::F32, {3});
  SHAPE_ERROR(g.add(a, b), "graph add", "[2, 3]", "[4, 3]", "do not broadcast");
  DTYPE_ERROR(g.mul(a, h), "graph mul", "f32", "f16", "insert a cast");
  SHAPE_ERROR(g.matmul(a, b), "graph matmul", "inner dimensions differ", "[2, 3]", "[4, 3]");
  SHAPE_ERROR(g.matmul(a, v), "graph matmul", "at least 2 dimensions", "[3]");
  DTYPE_ERROR(g.matmul(a, h, false, true), "graph matmul", "f32", "f16");
  SHAPE_ERROR(g.softmax(a, 2), "graph softmax", "axis 2", "rank 2");
  SHAPE_ERROR(g.reduce_max(a, {1, -1}), "graph reduce_max", "distinct axes");
  SHAPE_ERROR(g.transpose(a, {0}), "graph transpose", "does not fit rank 2");
  SHAPE_ERROR(g.transpose(a, {1, 1}), "graph transpose", "repeats axis 1");
  SHAPE_ERROR(g.reshape(a, {5}), "graph reshape", "[2, 3]", "[5]", "element counts differ");
  SHAPE_ERROR(g.causal_mask(v, 0), "graph causal_mask", "[3]");
  SHAPE_ERROR(g.additive_mask(v, a), "graph additive_mask", "mask [2, 3]",
              "does not broadcast to [3]");
  DTYPE_ERROR(g.cast(a, DType::I32), "graph cast", "i32");
  SHAPE_ERROR(g.placeholder("n", DType::F32, {-1}), "graph placeholder", "negative");
  const NodeId q = g.placeholder("q", DType::F32, {1, 3, 4, 8});
  const NodeId k = g.placeholder("k", DType::F32, {1, 2, 5, 8});
  SHAPE_ERROR(g.scaled_dot_product_attention(q, k, k, std::nullopt, 1.0),
              "graph scaled_dot_product_attention", "[1, 2, 5, 8]", "[1, 3, 4, 8]", "multiple");
  const NodeId q2 = g.placeholder("q2", DType::F32, {1, 4, 4, 8});
  SHAPE_ERROR(g.scaled_dot_product_attention(q2, k, k, a, 1.0), "mask [2, 3]",
              "does not broadcast to the scores [1, 4, 4, 5]");
  check_throws<metallic::ArgumentError>(__LINE__, [&] { g.add(a, 999); }, {"node 999"});
  check_throws<metallic::ArgumentError>(__LINE__, [&] { g.set_outputs({}); }, {"at least one"});
}

int main() {
  inference();
  describe_is_canonical();
  errors();
  if (g_failures) {
    std::fprintf(stderr, "%d failures\n", g_failures);
    return 1;
  }
  std::puts("ok");
  return 0;
}
