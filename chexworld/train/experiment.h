// The experiment driver behind `bazel run //experiments:run`: builds the
// configured components through their registries and runs what the config
// asks for (pretraining when it names an objective, then any evaluations).
// It knows component interfaces only; the binary's deps decide which
// implementations exist.
#ifndef CHEXWORLD_TRAIN_EXPERIMENT_H_
#define CHEXWORLD_TRAIN_EXPERIMENT_H_

#include <string>

#include "absl/status/status.h"
#include "chexworld/proto/experiment.pb.h"

namespace chexworld {

// Checks that the slots a run needs are filled (for pretraining: dataset,
// transform, masker, optimizer, the three schedules, epochs), naming the
// first missing field. Runs before any work.
absl::Status CheckExperimentComplete(const ExperimentConfig& config);

absl::Status RunExperiment(const ExperimentConfig& config, const std::string& run_dir, bool resume);

}  // namespace chexworld

#endif  // CHEXWORLD_TRAIN_EXPERIMENT_H_
