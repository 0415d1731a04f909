// Fused float32 CPU LayerNorm and Linear + bias + GELU with their own
// backward (custom autograd functions over fused_cpu_kernels.h), used by the
// transformer layers in place of libtorch's operators where they apply.
//
//  - FusedLayerNorm: one pass forward (mean, rstd saved per row), one pass
//    backward writing dx and the weight and bias gradients.
//  - FusedLinearGelu: GELU(x Wᵀ + b) as one GEMM and one pass that adds the
//    bias and applies the exact-erf GELU; the backward is one pass for
//    dpre = dy GELU'(pre) and the bias gradient, then the two GEMMs. libtorch
//    spends a pass copying the bias into the GEMM output, one for GELU, one
//    for GELU's backward and one for the bias gradient.
// Outside autograd (no input requiring a gradient, or grad mode off) nothing
// is saved for a backward. Neither is twice differentiable.
//
// They apply to float32 strided CPU tensors when CPU autocast is off, on
// x86-64 CPUs with AVX2 and FMA; on other devices, dtypes and CPUs (CUDA, bf16
// autocast, aarch64) the layers keep libtorch's operators. CHEXWORLD_FUSED_CPU_KERNELS=0 in the environment (or
// SetFusedCpuKernels(false)) turns them and the fused attention off, to
// compare or to rule them out.
#ifndef CHEXWORLD_MODELS_LAYERS_FUSED_CPU_OPS_H_
#define CHEXWORLD_MODELS_LAYERS_FUSED_CPU_OPS_H_

#include <ATen/core/Tensor.h>

namespace chexworld {

bool FusedCpuKernelsEnabled();
void SetFusedCpuKernels(bool enabled);

// Enabled, the CPU has AVX2 + FMA, x is a float32 strided CPU tensor, and
// CPU autocast is off.
bool FusedCpuApplies(const at::Tensor& x);

// LayerNorm over the last dimension; weight and bias may be undefined.
at::Tensor FusedLayerNorm(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias, double eps);

// GELU(x weightᵀ + bias): x [..., in], weight [out, in], bias [out] or undefined.
at::Tensor FusedLinearGelu(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias);

}  // namespace chexworld

#endif  // CHEXWORLD_MODELS_LAYERS_FUSED_CPU_OPS_H_
