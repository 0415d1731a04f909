// Pre-norm ViT block, parameter names as the official code (timm-style):
//   norm1, attn.qkv, attn.proj, norm2, mlp.fc1, mlp.fc2.
// x <- x + DropPath(Attn(LN1(x))); x <- x + DropPath(MLP(LN2(x))).
// Shapes: (B, N, D) -> (B, N, D). LayerNorm eps 1e-6, exact-erf GELU,
// softmax attention scaled by (D/heads)^-1/2, qkv with bias. On float32 CPU
// tensors LayerNorm, fc1 + GELU and attention run as fused kernels
// (fused_cpu_ops.h, attention_core.h); elsewhere as libtorch operators.
#ifndef CHEXWORLD_MODELS_LAYERS_TRANSFORMER_H_
#define CHEXWORLD_MODELS_LAYERS_TRANSFORMER_H_

#include <torch/torch.h>

namespace chexworld {

// norm(x), through the fused CPU LayerNorm where it applies (fused_cpu_ops.h).
torch::Tensor ApplyLayerNorm(torch::nn::LayerNorm norm, const torch::Tensor& x);

// Stochastic depth: drops the whole residual branch per sample in training.
torch::Tensor DropPath(const torch::Tensor& x, double p, bool training);

class AttentionImpl : public torch::nn::Cloneable<AttentionImpl> {
 public:
  AttentionImpl(int64_t dim, int64_t num_heads);
  void reset() override;
  torch::Tensor forward(const torch::Tensor& x);

  torch::nn::Linear qkv{nullptr}, proj{nullptr};

 private:
  int64_t dim_, heads_;
};
TORCH_MODULE(Attention);

class MlpImpl : public torch::nn::Cloneable<MlpImpl> {
 public:
  MlpImpl(int64_t dim, int64_t hidden);
  void reset() override;
  torch::Tensor forward(const torch::Tensor& x);

  torch::nn::Linear fc1{nullptr}, fc2{nullptr};

 private:
  int64_t dim_, hidden_;
};
TORCH_MODULE(Mlp);

class BlockImpl : public torch::nn::Cloneable<BlockImpl> {
 public:
  BlockImpl(int64_t dim, int64_t num_heads, double mlp_ratio, double drop_path, double ln_eps = 1e-6);
  void reset() override;
  torch::Tensor forward(const torch::Tensor& x);

  torch::nn::LayerNorm norm1{nullptr}, norm2{nullptr};
  Attention attn{nullptr};
  Mlp mlp{nullptr};
  double drop_path;

 private:
  int64_t dim_, heads_;
  double mlp_ratio_, ln_eps_;
};
TORCH_MODULE(Block);

// Official initialisation: every Linear (and Conv2d) weight trunc-normal(std)
// truncated at +-2 absolute, biases 0; LayerNorm weight 1, bias 0.
void InitWeights(torch::nn::Module& module, double std = 0.02);

// In-place truncated normal on [a, b] (absolute bounds), as timm/I-JEPA.
void TruncNormal_(torch::Tensor t, double std, double a = -2.0, double b = 2.0);

}  // namespace chexworld

#endif  // CHEXWORLD_MODELS_LAYERS_TRANSFORMER_H_
