// Vision Transformer encoder "vit" (I-JEPA/CheXWorld layout, no CLS token).
//
// patch_embed.proj: Conv2d(C -> D, k = s = patch) -> tokens row-major
// + pos_embed (fixed 2-D sin-cos, [column | row], stored as a frozen
// parameter so checkpoints carry it) -> optional gather of kept tokens
// -> blocks.{i} (pre-norm) -> norm (LayerNorm eps 1e-6).
// Shapes: (B, C, H, W) -> (B, N, D); N = (H/patch)*(W/patch). Other input
// sizes than image_size interpolate pos_embed bicubically.
#ifndef CHEXWORLD_MODELS_ENCODERS_VIT_H_
#define CHEXWORLD_MODELS_ENCODERS_VIT_H_

#include <torch/torch.h>

#include "absl/status/statusor.h"
#include "chexworld/models/encoder.h"
#include "chexworld/models/encoders/vit.pb.h"
#include "chexworld/models/layers/transformer.h"

namespace chexworld {

// ViTOptions with preset and defaults applied; InvalidArgument naming the field.
absl::StatusOr<ViTOptions> ResolveViTOptions(const ViTOptions& options);

// patch_embed: holds `proj` so the key reads patch_embed.proj.weight.
class PatchEmbedImpl : public torch::nn::Cloneable<PatchEmbedImpl> {
 public:
  PatchEmbedImpl(int64_t in_channels, int64_t dim, int64_t patch);
  void reset() override;
  torch::Tensor forward(const torch::Tensor& images) { return proj(images); }

  torch::nn::Conv2d proj{nullptr};

 private:
  int64_t in_channels_, dim_, patch_;
};
TORCH_MODULE(PatchEmbed);

class VisionTransformerImpl : public Encoder {
 public:
  explicit VisionTransformerImpl(const ViTOptions& resolved_options);
  std::shared_ptr<Encoder> CloneEncoder() const override;

  torch::Tensor Forward(const torch::Tensor& images, const torch::Tensor& keep = {}) override;
  std::vector<torch::Tensor> ForwardLayers(const torch::Tensor& images,
                                           const torch::Tensor& keep = {}) override;

  int64_t embed_dim() const override { return options_.embed_dim(); }
  int64_t num_heads() const override { return options_.num_heads(); }
  int64_t depth() const override { return options_.depth(); }
  int64_t patch_size() const override { return options_.patch_size(); }
  int64_t in_channels() const override { return options_.in_channels(); }
  int64_t image_size() const override { return options_.image_size(); }
  const ViTOptions& options() const { return options_; }

  PatchEmbed patch_embed{nullptr};
  torch::Tensor pos_embed;
  torch::nn::ModuleList blocks{nullptr};
  torch::nn::LayerNorm norm{nullptr};

 private:
  void Build();
  torch::Tensor Embed(const torch::Tensor& images, const torch::Tensor& keep);
  ViTOptions options_;
};

}  // namespace chexworld

#endif  // CHEXWORLD_MODELS_ENCODERS_VIT_H_
