// GEMV entry points over gemv_core (listed before this file in metal.sources): weights Q8_0,
// Q4_0 (GGUF blocks, N x K), dense N x K ("rows") or K x N ("cols"); activations x [M, K] and
// out [M, N] of one float type. Grid: (N, ceil(M / kGemvRows)) threads.

template <typename Weights, typename T>
[[kernel]] void matmul_q8_gemv(device const uchar* w [[buffer(0)]],
                               device const T* x [[buffer(1)]], device T* out [[buffer(2)]],
                               constant GemvParams& p [[buffer(3)]],
                               uint2 pos [[thread_position_in_grid]]) {
  gemv_column<Weights>(w, x, out, p, pos.x, pos.y * kGemvRows);
}

#define METALLIC_GEMV_KERNEL(form, Weights, T, dtype)                                        \
  template [[host_name("matmul_q8_gemv_" #form "_" #dtype)]] [[kernel]] decltype(            \
      matmul_q8_gemv<Weights, T>) matmul_q8_gemv<Weights, T>;

METALLIC_GEMV_KERNEL(q8_0, WeightsQ8_0, float, f32)
METALLIC_GEMV_KERNEL(q8_0, WeightsQ8_0, half, f16)
METALLIC_GEMV_KERNEL(q4_0, WeightsQ4_0, float, f32)
METALLIC_GEMV_KERNEL(q4_0, WeightsQ4_0, half, f16)
METALLIC_GEMV_KERNEL(rows, WeightsRows<float>, float, f32)
METALLIC_GEMV_KERNEL(rows, WeightsRows<half>, half, f16)
METALLIC_GEMV_KERNEL(rows, WeightsRows<bfloat>, bfloat, bf16)
METALLIC_GEMV_KERNEL(cols, WeightsCols<float>, float, f32)
METALLIC_GEMV_KERNEL(cols, WeightsCols<half>, half, f16)
METALLIC_GEMV_KERNEL(cols, WeightsCols<bfloat>, bfloat, bf16)
