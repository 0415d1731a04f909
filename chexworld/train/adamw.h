// AdamW over the official parameter groups as ATen's multi-tensor kernels:
// per step one increment of the step count, one multiplication of the decay
// group by (1 - lr * weight_decay), and one fused Adam update per group
// (at::_fused_adam_), on CPU and CUDA alike, whatever the number of tensors.
// The step count, the learning rate and the decay factor are 0-dim tensors
// on the parameters' device, filled by SetHyperparameters before the step: no
// host value enters the update, so a CUDA graph can capture it.
//
// Same arithmetic as torch.optim.AdamW (fused or foreach):
//   p *= 1 - lr * wd;  m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2
//   p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
// The moments live in libtorch's AdamW state (torch::optim::AdamWParamState),
// which checkpoints, --resume and export read and write unchanged: state()
// writes the device's step count into it first (one read, where a checkpoint
// is written anyway), and after LoadState the next Step() takes the loaded
// moments and count up.
#ifndef CHEXWORLD_TRAIN_ADAMW_H_
#define CHEXWORLD_TRAIN_ADAMW_H_

#include <memory>
#include <vector>

#include <torch/torch.h>

#include "chexworld/train/param_groups.h"

namespace chexworld {

class MultiTensorAdamW {
 public:
  MultiTensorAdamW(const ParamGroups& groups, double beta1, double beta2, double eps);

  // lr on every group, weight decay on the decay group: written into the
  // device scalars (two small fills; no synchronisation).
  void SetHyperparameters(double lr, double weight_decay);
  // One step over every parameter that has a gradient.
  void Step();
  // libtorch's optimizer holding the state, step counts up to date (read from
  // the device: call it where a checkpoint is written, not every step).
  const torch::optim::AdamW& state();
  // Loads a saved state; the next Step() takes it up.
  void LoadState(torch::serialize::InputArchive& archive);

 private:
  struct Group {
    std::vector<torch::Tensor> params, exp_avgs, exp_avg_sqs, steps;
    bool decay = false;
  };
  void Prepare();

  std::unique_ptr<torch::optim::AdamW> adamw_;
  double beta1_, beta2_, eps_;
  bool has_decay_group_;
  double lr_ = 0, weight_decay_ = 0;
  std::vector<Group> groups_;
  bool prepared_ = false;
  torch::Tensor step_, lr_t_, decay_t_;  // 0-dim, on the parameters' device
};

}  // namespace chexworld

#endif  // CHEXWORLD_TRAIN_ADAMW_H_
