// The encoder interface and its registry ("encoder").
//
// An encoder maps images (B, C, H, W) to patch tokens (B, N, D), N = number of
// patches, or to the kept tokens (B, K, D) when given indices keep (B, K)
// (context masking: position embeddings are added before the gather).
//
//   ASSIGN_OR_RETURN(std::shared_ptr<Encoder> enc, CreateEncoder(config.model().encoder()));
#ifndef CHEXWORLD_MODELS_ENCODER_H_
#define CHEXWORLD_MODELS_ENCODER_H_

#include <memory>
#include <vector>

#include <torch/torch.h>

#include "chexworld/core/registry.h"

namespace chexworld {

inline constexpr char kEncoderKind[] = "encoder";

// Implementations derive from Encoder alone, never also from
// torch::nn::Cloneable (see module_copy.h): Module is a plain, single base.
class Encoder : public torch::nn::Module {
 public:
  ~Encoder() override = default;

  // Final-norm tokens: (B, N, D), or (B, K, D) for kept indices `keep`.
  virtual torch::Tensor Forward(const torch::Tensor& images, const torch::Tensor& keep = {}) = 0;
  // Every block's output; the last one replaced by the final-norm output.
  virtual std::vector<torch::Tensor> ForwardLayers(const torch::Tensor& images,
                                                   const torch::Tensor& keep = {}) = 0;

  virtual int64_t embed_dim() const = 0;
  virtual int64_t num_heads() const = 0;
  virtual int64_t depth() const = 0;
  virtual int64_t patch_size() const = 0;
  virtual int64_t in_channels() const = 0;
  // Image size the model was configured for (position table grid).
  virtual int64_t image_size() const = 0;
  int64_t grid_size() const { return image_size() / patch_size(); }

  // Deep copy sharing no storage, on the same device (for the EMA target).
  virtual std::shared_ptr<Encoder> CloneEncoder() const = 0;
};

inline absl::StatusOr<std::shared_ptr<Encoder>> CreateEncoder(const ComponentSpec& spec) {
  return CreateComponent<Encoder>(kEncoderKind, spec);
}

}  // namespace chexworld

#endif  // CHEXWORLD_MODELS_ENCODER_H_
