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
// Also every cross-field rule (schedules against trainer.epochs, concurrent
// shards against the batch and device, the objective against the predictor's
// action network), so that no run folder is made for a config that would
// fail later.
absl::Status CheckExperimentComplete(const ExperimentConfig& config);

// What this machine must have for the config to run, apart from its rules:
// the device (run.device = "cuda" without a GPU fails with "no CUDA device:
// ..."). The runner and the sweep check it before any folder is made.
absl::Status CheckMachineCanRun(const ExperimentConfig& config);

// True when `run_dir` holds a run of `config` that ran to its end (its report,
// its pretraining summary and its evaluation summary, as the config asks).
bool RunIsFinished(const ExperimentConfig& config, const std::string& run_dir);

absl::Status RunExperiment(const ExperimentConfig& config, const std::string& run_dir, bool resume);

}  // namespace chexworld

#endif  // CHEXWORLD_TRAIN_EXPERIMENT_H_
