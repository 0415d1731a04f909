// The networks of a world-model config, built as pretraining builds them:
// the context encoder, its EMA target (an exact copy), the predictor on the
// views' patch grid, and the view transform that fixes that grid. Shared by
// the trainer, the config checks, the analyses and the export tool.
#ifndef CHEXWORLD_TRAIN_NETWORKS_H_
#define CHEXWORLD_TRAIN_NETWORKS_H_

#include <memory>

#include "absl/status/statusor.h"
#include "chexworld/data/transforms/transform.h"
#include "chexworld/models/encoder.h"
#include "chexworld/models/predictor.h"
#include "chexworld/proto/experiment.pb.h"

namespace chexworld {

struct WorldModelNetworks {
  std::shared_ptr<Encoder> encoder;
  std::shared_ptr<Encoder> target;
  std::shared_ptr<Predictor> predictor;
  std::shared_ptr<ViewTransform> transform;
  int64_t grid = 0;  // the views' patch grid side (output_size / patch_size)
};

// InvalidArgument when the views do not tile into patches; errors of the
// component factories name their slot.
absl::StatusOr<WorldModelNetworks> BuildWorldModelNetworks(const ExperimentConfig& config);

// Trainable parameters of a module.
int64_t CountTrainableParameters(const torch::nn::Module& module);

}  // namespace chexworld

#endif  // CHEXWORLD_TRAIN_NETWORKS_H_
