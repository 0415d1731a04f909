#include "chexworld/train/param_groups.h"

namespace chexworld {

NamedParameters TrainableParameters(const torch::nn::Module& module, const std::string& prefix) {
  NamedParameters out;
  for (const auto& p : module.named_parameters(/*recurse=*/true)) {
    if (p.value().requires_grad()) out.emplace_back(prefix + p.key(), p.value());
  }
  return out;
}

ParamGroups SplitWeightDecay(const NamedParameters& params) {
  ParamGroups g;
  for (const auto& [name, t] : params) {
    const bool is_bias = name.size() >= 5 && name.compare(name.size() - 5, 5, ".bias") == 0;
    if (t.dim() <= 1 || is_bias || name.find("bn") != std::string::npos) {
      g.no_decay.emplace_back(name, t);
    } else {
      g.decay.emplace_back(name, t);
    }
  }
  return g;
}

std::unique_ptr<torch::optim::AdamW> MakeAdamW(const ParamGroups& groups, double lr, double weight_decay,
                                               double beta1, double beta2, double eps) {
  auto tensors = [](const NamedParameters& p) {
    std::vector<torch::Tensor> t;
    for (const auto& kv : p) t.push_back(kv.second);
    return t;
  };
  auto options = [&](double wd) {
    return std::make_unique<torch::optim::AdamWOptions>(
        torch::optim::AdamWOptions(lr).betas({beta1, beta2}).eps(eps).weight_decay(wd));
  };
  // Group 0 = decay, group 1 = no decay (empty groups are left out).
  std::vector<torch::optim::OptimizerParamGroup> param_groups;
  if (!groups.decay.empty()) param_groups.emplace_back(tensors(groups.decay), options(weight_decay));
  if (!groups.no_decay.empty()) param_groups.emplace_back(tensors(groups.no_decay), options(0.0));
  return std::make_unique<torch::optim::AdamW>(param_groups,
                                               torch::optim::AdamWOptions(lr).betas({beta1, beta2}).eps(eps));
}

ParamGroups WorldModelParamGroups(const torch::nn::Module& encoder, const torch::nn::Module& predictor) {
  NamedParameters all = TrainableParameters(encoder, "encoder.");
  for (auto& p : TrainableParameters(predictor, "predictor.")) all.push_back(p);
  return SplitWeightDecay(all);
}

}  // namespace chexworld
