// The official AdamW parameter groups (METHOD 5): no weight decay for 1-D
// tensors, biases and names containing "bn"; decay for every other trainable
// tensor (mask_token included). Frozen tensors (pos-embeds) are left out.
#ifndef CHEXWORLD_TRAIN_PARAM_GROUPS_H_
#define CHEXWORLD_TRAIN_PARAM_GROUPS_H_

#include <string>
#include <utility>
#include <vector>

#include <torch/torch.h>

namespace chexworld {

using NamedParameters = std::vector<std::pair<std::string, torch::Tensor>>;

struct ParamGroups {
  NamedParameters decay;
  NamedParameters no_decay;
};

// Trainable parameters of `module`, names prefixed with `prefix`.
NamedParameters TrainableParameters(const torch::nn::Module& module, const std::string& prefix);

ParamGroups SplitWeightDecay(const NamedParameters& params);

// The groups pretraining optimises: the context encoder's and the predictor's
// trainable tensors, named with the official checkpoint prefixes
// ("encoder.", "predictor.").
ParamGroups WorldModelParamGroups(const torch::nn::Module& encoder, const torch::nn::Module& predictor);

// AdamW over the two groups: weight_decay on `decay`, 0 on `no_decay`.
std::unique_ptr<torch::optim::AdamW> MakeAdamW(const ParamGroups& groups, double lr, double weight_decay,
                                               double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8);

}  // namespace chexworld

#endif  // CHEXWORLD_TRAIN_PARAM_GROUPS_H_
