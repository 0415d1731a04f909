// What //experiments:export writes beside the weights so that they can be
// used without this library: preprocessing.json (how an image file becomes
// the encoder's input, chexworld/data/preprocessing.proto) and
// architecture.json (the resolved encoder and predictor options the Python
// package builds its modules from).
#ifndef EXPERIMENTS_EXPORT_SPEC_H_
#define EXPERIMENTS_EXPORT_SPEC_H_

#include <string>

#include "absl/status/statusor.h"
#include "chexworld/data/preprocessing.pb.h"
#include "chexworld/proto/experiment.pb.h"

namespace chexworld {

// From a resolved experiment config: the pretraining shards' packing rules
// (their manifest), else the packer's defaults at the encoder's input size.
absl::StatusOr<PreprocessingSpec> MakePreprocessingSpec(const ExperimentConfig& config);

// {"encoder": {"name": "vit", "options": {...}}, "predictor": {"name": ...,
// "options": {...}, "encoder_dim": D, "grid_h": g, "grid_w": g}}, every
// option resolved (presets expanded, defaults filled).
absl::StatusOr<std::string> ArchitectureJson(const ExperimentConfig& config);

}  // namespace chexworld

#endif  // EXPERIMENTS_EXPORT_SPEC_H_
