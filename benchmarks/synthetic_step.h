// One pretraining step on a synthetic batch, composed as the trainer composes
// it: a ViT encoder (a preset at an image size), its EMA target, the
// conditioned predictor, the registered "chexworld" objective (four predictor
// passes), the registered AdamW over the official groups, multi-tensor
// gradient clipping and the multi-tensor EMA. The step benchmarks time it
// (step_phases_bench) and count its operators (op_count) phase by phase.
#ifndef CHEXWORLD_BENCHMARKS_SYNTHETIC_STEP_H_
#define CHEXWORLD_BENCHMARKS_SYNTHETIC_STEP_H_

#include <memory>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "chexworld/data/batch.h"
#include "chexworld/models/ema.h"
#include "chexworld/models/encoders/vit.h"
#include "chexworld/models/predictors/conditioned_transformer.h"
#include "chexworld/objectives/objective.h"
#include "chexworld/train/flops.h"
#include "chexworld/train/schedules.h"

namespace chexworld {

struct SyntheticStepOptions {
  std::string preset = "tiny";  // ViT preset
  int image_size = 224;
  int batch = 16;
  int predictor_dim = 384;  // official 384 x 6
  int predictor_depth = 6;
  int channels = 1;
  bool bf16 = false;  // autocast for the forward passes
  torch::Device device = torch::kCPU;
};

class SyntheticStep {
 public:
  explicit SyntheticStep(const SyntheticStepOptions& o);

  // The four phases, in order.
  void Forward();
  void Backward();
  void Optimize();  // hyperparameters, clipping, AdamW, gradients cleared
  void Ema();

  const StepShape& shape() const { return shape_; }
  double FlopsPerStep() const { return StepFlopsPerImage(shape_) * o_.batch; }
  int64_t parameter_tensors() const { return static_cast<int64_t>(params_.size()); }

 private:
  SyntheticStepOptions o_;
  std::shared_ptr<VisionTransformerImpl> encoder_;
  std::shared_ptr<Encoder> target_;
  std::shared_ptr<ConditionedTransformerImpl> predictor_;
  std::shared_ptr<Objective> objective_;
  std::shared_ptr<TrainOptimizer> optimizer_;
  std::unique_ptr<EmaUpdater> ema_;
  std::vector<torch::Tensor> params_;
  WorldModelBatch batch_;
  ObjectiveOutput out_;
  StepShape shape_;
};

}  // namespace chexworld

#endif  // CHEXWORLD_BENCHMARKS_SYNTHETIC_STEP_H_
