#include "chexworld/train/grad_clip.h"

#include <ATen/ATen.h>

namespace chexworld {

torch::Tensor ClipGradNorm(const std::vector<torch::Tensor>& params, double max_norm) {
  std::vector<torch::Tensor> grads;
  for (const auto& p : params) {
    if (p.grad().defined()) grads.push_back(p.grad());
  }
  if (grads.empty()) return {};
  torch::NoGradGuard g;
  torch::Tensor total = torch::stack(at::_foreach_norm(grads, 2)).norm(2);
  if (max_norm > 0) {
    // Python's max_norm / t is t.reciprocal() * max_norm.
    const torch::Tensor coef = ((total + 1e-6).reciprocal() * max_norm).clamp_max(1.0);
    at::_foreach_mul_(grads, coef);
  }
  return total;
}

void ClearGradients(const std::vector<torch::Tensor>& params) {
  for (auto p : params) p.mutable_grad().reset();
}

}  // namespace chexworld
