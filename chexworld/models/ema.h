// The EMA target encoder (METHOD 1.6) and the regression targets.
#ifndef CHEXWORLD_MODELS_EMA_H_
#define CHEXWORLD_MODELS_EMA_H_

#include <memory>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "absl/status/statusor.h"
#include "chexworld/models/encoder.h"

namespace chexworld {

// A deep copy of `online` that shares no storage and needs no gradients.
std::shared_ptr<Encoder> MakeTargetEncoder(const Encoder& online);

// target <- m * target + (1 - m) * online over every parameter (including the
// fixed pos_embed, as the official update), as one multi-tensor update.
//
// Create() collects the parameters once: each parameter of `online` and the
// same-named one of `target` (matched by name here, never again) become views
// of one contiguous buffer per device and dtype, in the same order. Update()
// is then one lerp per buffer, target + (1 - m) (online - target), with 1 - m a
// 0-dim tensor on the device: no host value in the update, so a CUDA graph can
// capture Apply(). Create it after the networks are on their device and any
// checkpoint is loaded (loading copies into the parameters and keeps the
// views; a module moved or re-made afterwards does not: CheckIntact() says so).
//
//   ASSIGN_OR_RETURN(std::unique_ptr<EmaUpdater> ema, EmaUpdater::Create(*target, *encoder));
//   ema->Update(momentum);                 // after each optimizer step
class EmaUpdater {
 public:
  static absl::StatusOr<std::unique_ptr<EmaUpdater>> Create(torch::nn::Module& target, torch::nn::Module& online);

  // SetMomentum, then Apply.
  void Update(double momentum);
  // Writes 1 - momentum into the device weights (a small fill, no wait).
  void SetMomentum(double momentum);
  // The lerps, with the weights as set.
  void Apply();
  // Every parameter still views its buffer; else which one does not.
  absl::Status CheckIntact() const;

 private:
  struct Buffer {
    torch::Tensor target, online, weight;
  };
  struct View {
    std::string name;
    torch::Tensor target, online;
    const void* target_data;
    const void* online_data;
  };
  EmaUpdater() = default;
  std::vector<Buffer> buffers_;
  std::vector<View> views_;
};

// layer_norm over the last dim without affine parameters, eps 1e-5: the
// official target normalisation of the last layer ("avg_ln", last_k = 1).
torch::Tensor TargetLayerNorm(const torch::Tensor& features);

}  // namespace chexworld

#endif  // CHEXWORLD_MODELS_EMA_H_
