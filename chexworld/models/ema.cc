#include "chexworld/models/ema.h"

#include <ATen/Parallel.h>

#include "chexworld/models/layers/fused_cpu_ops.h"

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
    torch::Tensor t = p.value();
    const torch::Tensor& o = *q;
    if (t.device().is_cpu() && t.scalar_type() == torch::kFloat && t.is_contiguous() && o.device().is_cpu() &&
        o.scalar_type() == torch::kFloat && o.is_contiguous() && o.numel() == t.numel()) {
      // One pass: t = m t + (1 - m) o (the official mul_ then add_, without the temporary).
      const float m = static_cast<float>(momentum), om = static_cast<float>(1.0 - momentum);
      float* tp = t.data_ptr<float>();
      const float* op = o.data_ptr<float>();
      at::parallel_for(0, t.numel(), 16384, [&](int64_t begin, int64_t end) {
        for (int64_t i = begin; i < end; ++i) tp[i] = tp[i] * m + om * op[i];
      });
    } else {
      t.mul_(momentum).add_(o.detach() * (1.0 - momentum));
    }
  }
}

torch::Tensor TargetLayerNorm(const torch::Tensor& features) {
  if (FusedCpuApplies(features)) return FusedLayerNorm(features, /*weight=*/{}, /*bias=*/{}, 1e-5);
  return torch::layer_norm(features, {features.size(-1)}, /*weight=*/{}, /*bias=*/{}, 1e-5);
}

}  // namespace chexworld
