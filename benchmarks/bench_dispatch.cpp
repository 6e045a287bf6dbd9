// Dispatch overhead: encodes N tiny dispatches (1-element f32 tensors), commits, waits.
//
//   call<ElemwiseAddOp>  ctx.call<ElemwiseAddOp>({a, b}): validation, a pooled output tensor,
//                        pipeline lookup, bindings, encode (what every op pays)
//   raw encoder          ComputeKernelEncoder with a KernelFunction, three preallocated tensors and
//                        inline bytes (what an Operation::encode pays, without create())
//   raw, cached pipeline the same with a PipelinePtr fetched once before the loop
//
// Each variant runs with all N dispatches in one command buffer (encode is then pure host work;
// the device starts at commit) and with the default commit policy (a commit every 64
// dispatches, the device executing while the host encodes). "encode" is the time of the
// encoding loop / N; "end-to-end" is encode + commit + wait / N. Median and minimum of R
// repetitions.
//
// Build: the top-level CMake builds every benchmarks/bench_*.cpp (METALLIC_BUILD_BENCHMARKS=ON).
// Run:   bench_dispatch [--n N] [--reps R] [--device host|metal] [--only NAME]
//        (--only runs the variants whose name contains NAME, e.g. under valgrind --tool=callgrind)
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "metallic/context.hpp"
#include "metallic/kernel.hpp"
#include "metallic/ops/binary_elemwise.hpp"

using namespace metallic;
using Clock = std::chrono::steady_clock;

namespace {

struct Params {  // layout of metal/common/binary_elemwise_params.h
  uint32_t n, b_n;
};

struct Stats {
  double encode_median_ns, encode_min_ns, e2e_median_ns, e2e_min_ns;
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t m = v.size() / 2;
  return v.size() % 2 ? v[m] : 0.5 * (v[m - 1] + v[m]);
}

double since_ns(Clock::time_point t0) {
  return std::chrono::duration<double, std::nano>(Clock::now() - t0).count();
}

/// One repetition: `n` dispatches, then commit and wait. Appends per-dispatch times (ns).
void run_once(Context& ctx, int n, const std::function<void()>& encode_one,
              std::vector<double>& encode, std::vector<double>& e2e) {
  const auto t0 = Clock::now();
  for (int i = 0; i < n; ++i) encode_one();
  const double enc = since_ns(t0);
  ctx.synchronize();
  const double all = since_ns(t0);
  encode.push_back(enc / n);
  e2e.push_back(all / n);
}

Stats stats(const std::vector<double>& encode, const std::vector<double>& e2e) {
  return {median(encode), *std::min_element(encode.begin(), encode.end()), median(e2e),
          *std::min_element(e2e.begin(), e2e.end())};
}

}  // namespace

int main(int argc, char** argv) {
  int n = 20000, reps = 7;
  std::string device = "auto";
  std::string only;  // run only the variants whose name contains this (for profilers)
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--n" && i + 1 < argc) {
      n = std::atoi(argv[++i]);
    } else if (arg == "--reps" && i + 1 < argc) {
      reps = std::atoi(argv[++i]);
    } else if (arg == "--device" && i + 1 < argc) {
      device = argv[++i];
    } else if (arg == "--only" && i + 1 < argc) {
      only = argv[++i];
    } else {
      std::fprintf(stderr, "usage: %s [--n N] [--reps R] [--device host|metal] [--only NAME]\n",
                   argv[0]);
      return 2;
    }
  }
  if (n <= 0 || reps <= 0) {
    std::fprintf(stderr, "--n and --reps must be positive\n");
    return 2;
  }

  const auto selected = [&](const char* name) {
    return only.empty() || std::string(name).find(only) != std::string::npos;
  };

  struct Policy {
    const char* name;
    uint32_t dispatches_per_command_buffer;
  };
  const Policy policies[] = {{"1 cmdbuf", static_cast<uint32_t>(n) + 1}, {"commit/64", 64}};

  std::string device_name;
  std::printf("%-22s %-10s %7s %5s %19s %19s\n", "", "", "", "", "encode ns/dispatch",
              "e2e ns/dispatch");
  std::printf("%-22s %-10s %7s %5s %9s %9s %9s %9s\n", "variant", "commit", "N", "reps", "median",
              "min", "median", "min");
  for (const Policy& policy : policies) {
    ContextOptions options;
    options.device = device;
    options.dispatches_per_command_buffer = policy.dispatches_per_command_buffer;
    auto ctx = Context::create(options);
    device_name = ctx->device().name();
    const float one = 1.0f;
    Tensor a = ctx->tensor(DType::F32, {1}, TensorInit::copy_from(&one));
    Tensor b = ctx->tensor(DType::F32, {1}, TensorInit::copy_from(&one));
    Tensor out = ctx->tensor(DType::F32, {1});
    const Params params{1, 1};
    PipelinePtr cached = ctx->pipeline(KernelFunction::elemwise_add_vv_f32);

    struct Variant {
      const char* name;
      std::function<void()> encode_one;
    };
    const Variant variants[] = {
        {"call<ElemwiseAddOp>", [&] { ctx->call<ElemwiseAddOp>({a, b}); }},
        {"raw encoder",
         [&] {
           ComputeKernelEncoder e(*ctx, "raw_add");
           e.pipeline(KernelFunction::elemwise_add_vv_f32)
               .buffer(0, a)
               .buffer(1, b)
               .buffer(2, out)
               .bytes(3, params)
               .dispatch_1d(1, 256);
         }},
        {"raw, cached pipeline",
         [&] {
           ComputeKernelEncoder e(*ctx, "raw_add");
           e.pipeline(cached).buffer(0, a).buffer(1, b).buffer(2, out).bytes(3, params).dispatch_1d(
               1, 256);
         }},
    };
    const size_t nv = sizeof variants / sizeof variants[0];
    std::vector<std::vector<double>> encode(nv), e2e(nv);
    std::vector<double> warm;
    for (size_t v = 0; v < nv; ++v) {
      if (!selected(variants[v].name)) continue;
      run_once(*ctx, std::min(n, 1000), variants[v].encode_one, warm, warm);  // pool, pipelines
    }
    // Repetitions interleave the variants, so a burst of other load hits all of them alike.
    for (int r = 0; r < reps; ++r) {
      for (size_t v = 0; v < nv; ++v) {
        if (selected(variants[v].name))
          run_once(*ctx, n, variants[v].encode_one, encode[v], e2e[v]);
      }
    }
    for (size_t v = 0; v < nv; ++v) {
      if (!selected(variants[v].name)) continue;
      const Stats st = stats(encode[v], e2e[v]);
      std::printf("%-22s %-10s %7d %5d %9.1f %9.1f %9.1f %9.1f\n", variants[v].name, policy.name, n,
                  reps, st.encode_median_ns, st.encode_min_ns, st.e2e_median_ns, st.e2e_min_ns);
    }
    // The last output must hold a + b.
    const Tensor check = ctx->call<ElemwiseAddOp>({a, b});
    const float got = *static_cast<const float*>(check.data_for_read());
    if (got != 2.0f) {
      std::fprintf(stderr, "wrong result: 1 + 1 = %g\n", got);
      return 1;
    }
  }
  std::printf("device: %s; target: <= 300 ns to encode one dispatch\n", device_name.c_str());
  return 0;
}
