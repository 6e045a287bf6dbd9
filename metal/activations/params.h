// Argument struct of the activation kernels, shared by metal/activations/kernel.metal and
// cpp/src/ops/activations.cpp so the layout cannot drift.
#pragma once

struct ActivationParams {
  uint n;       // output elements
  uint width;   // swiglu: output columns F (gate and up rows are F, or 2F fused, long)
  uint fused;   // swiglu: 1 when gate and up are the halves of one [..., 2F] tensor
  uint vec4;    // 1 when every group of 4 outputs may use one aligned 4-vector load/store
};
