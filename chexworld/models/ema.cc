#include "chexworld/models/ema.h"

namespace chexworld {

std::shared_ptr<Encoder> MakeTargetEncoder(const Encoder& online) {
  auto target = online.CloneEncoder();
  for (auto& p : target->parameters()) p.set_requires_grad(false);
  return target;
}

void EmaUpdate(torch::nn::Module& target, const torch::nn::Module& online, double momentum) {
  torch::NoGradGuard no_grad;
  auto online_params = online.named_parameters(/*recurse=*/true);
  for (auto& p : target.named_parameters(/*recurse=*/true)) {
    const torch::Tensor* q = online_params.find(p.key());
    TORCH_CHECK(q != nullptr, "EMA: online model has no parameter '", p.key(), "'");
    p.value().mul_(momentum).add_(q->detach() * (1.0 - momentum));
  }
}

torch::Tensor TargetLayerNorm(const torch::Tensor& features) {
  return torch::layer_norm(features, {features.size(-1)}, /*weight=*/{}, /*bias=*/{}, 1e-5);
}

}  // namespace chexworld
