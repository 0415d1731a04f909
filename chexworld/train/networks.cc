#include "chexworld/train/networks.h"

#include <glog/logging.h>

#include "absl/strings/str_cat.h"
#include "chexworld/core/status_macros.h"
#include "chexworld/models/ema.h"

namespace chexworld {

int64_t CountTrainableParameters(const torch::nn::Module& m) {
  int64_t n = 0;
  for (const auto& p : m.parameters()) {
    if (p.requires_grad()) n += p.numel();
  }
  return n;
}

absl::StatusOr<WorldModelNetworks> BuildWorldModelNetworks(const ExperimentConfig& config) {
  WorldModelNetworks n;
  ASSIGN_OR_RETURN(n.encoder, CreateEncoder(config.model().encoder()));
  ASSIGN_OR_RETURN(n.transform, CreateViewTransform(config.data().transform()));
  if (n.transform->output_size() % n.encoder->patch_size() != 0) {
    return absl::InvalidArgumentError(absl::StrCat("data.transform output_size ", n.transform->output_size(),
                                                   " is not a multiple of the encoder patch size ",
                                                   n.encoder->patch_size()));
  }
  n.grid = n.transform->output_size() / n.encoder->patch_size();
  if (n.grid != n.encoder->grid_size()) {
    LOG(WARNING) << "views are " << n.transform->output_size() << " px but the encoder is configured for "
                 << n.encoder->image_size() << " px: position embeddings are interpolated every step";
  }
  ASSIGN_OR_RETURN(n.predictor, CreatePredictor(config.model().predictor(),
                                                PredictorContext{n.encoder->embed_dim(), n.encoder->num_heads(),
                                                                 n.grid, n.grid}));
  n.target = MakeTargetEncoder(*n.encoder);
  return n;
}

}  // namespace chexworld
