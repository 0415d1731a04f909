// Schedules ("schedule" registry) and optimizers ("optimizer" registry).
#ifndef CHEXWORLD_TRAIN_SCHEDULES_H_
#define CHEXWORLD_TRAIN_SCHEDULES_H_

#include <memory>
#include <vector>

#include <torch/torch.h>

#include "chexworld/core/registry.h"
#include "chexworld/train/param_groups.h"

namespace chexworld {

inline constexpr char kScheduleKind[] = "schedule";
inline constexpr char kOptimizerKind[] = "optimizer";

// The horizon a schedule is built for.
struct ScheduleHorizon {
  int64_t epochs = 1;
  int64_t iterations_per_epoch = 1;  // floor(ipe_scale * micro-batches per epoch)
};

class Schedule {
 public:
  virtual ~Schedule() = default;
  // Value at micro-batch `iteration` (clamped to the horizon).
  virtual double Value(int64_t iteration) const = 0;
};

inline absl::StatusOr<std::shared_ptr<Schedule>> CreateSchedule(const ComponentSpec& spec, ScheduleHorizon h) {
  return CreateComponent<Schedule>(kScheduleKind, spec, h);
}

// An optimizer over the official parameter groups whose learning rate and
// weight decay the trainer sets every micro-batch.
class TrainOptimizer {
 public:
  virtual ~TrainOptimizer() = default;
  // The state as libtorch's optimizer holds it (moments and step count per
  // parameter), up to date: to read, or to save into a checkpoint.
  virtual const torch::optim::Optimizer& state() = 0;
  // Loads a checkpoint's state (written from state()); the next Step() takes it up.
  virtual void LoadState(torch::serialize::InputArchive& archive) = 0;
  // One optimizer step on the current gradients.
  virtual void Step() = 0;
  // lr on every group; weight decay on the decay group only.
  virtual void SetHyperparameters(double lr, double weight_decay) = 0;
};

inline absl::StatusOr<std::shared_ptr<TrainOptimizer>> CreateOptimizer(const ComponentSpec& spec, ParamGroups groups) {
  return CreateComponent<TrainOptimizer>(kOptimizerKind, spec, std::move(groups));
}

}  // namespace chexworld

#endif  // CHEXWORLD_TRAIN_SCHEDULES_H_
