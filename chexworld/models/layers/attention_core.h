// The multi-head self-attention core, softmax(q kᵀ · scale) v, on the output
// of a qkv Linear laid out as the official code reshapes it: qkv [B, N, 3C]
// with channel index (s * heads + h) * d + j for s in {q, k, v}. Returns
// [B, N, C] with channels h * d + j (heads concatenated), ready for `proj`.
//
// Three implementations with the same result (to float rounding):
//  - AttentionCoreReference: composite libtorch ops, any device and dtype;
//    materialises the [B, h, N, N] scores.
//  - AttentionCoreSdpa: at::scaled_dot_product_attention: flash or
//    memory-efficient attention on CUDA (bf16 under autocast), libtorch's
//    own fused kernels on CPU.
//  - AttentionCoreFusedCpu: float32 CPU only. One single-threaded BLAS call per
//    (sample, head) pair, pairs spread over torch's intra-op threads, reading
//    q/k/v and writing outputs and gradients in place through strides. This
//    avoids libtorch's bmm on CPU, which multiplies batch items one after the
//    other with a multi-threaded GEMM each (small products, poor scaling), and
//    the permute/contiguous copies around it. Not twice differentiable.
// AttentionCore picks the fused CPU path where it applies (and is switched
// on), else SDPA.
#ifndef CHEXWORLD_MODELS_LAYERS_ATTENTION_CORE_H_
#define CHEXWORLD_MODELS_LAYERS_ATTENTION_CORE_H_

#include <ATen/core/Tensor.h>

namespace chexworld {

at::Tensor AttentionCoreReference(const at::Tensor& qkv, int64_t heads, double scale);
at::Tensor AttentionCoreFusedCpu(const at::Tensor& qkv, int64_t heads, double scale);
at::Tensor AttentionCoreSdpa(const at::Tensor& qkv, int64_t heads, double scale);

// True where AttentionCoreFusedCpu applies: a float32 CPU tensor [B, N, 3C].
bool FusedAttentionApplies(const at::Tensor& qkv);

// The fused path where it applies, else SDPA.
at::Tensor AttentionCore(const at::Tensor& qkv, int64_t heads, double scale);

}  // namespace chexworld

#endif  // CHEXWORLD_MODELS_LAYERS_ATTENTION_CORE_H_
