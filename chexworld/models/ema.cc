#include "chexworld/models/ema.h"

#include <map>
#include <tuple>
#include <utility>

#include "absl/strings/str_cat.h"
#include "chexworld/models/layers/fused_cpu_ops.h"

namespace chexworld {

std::shared_ptr<Encoder> MakeTargetEncoder(const Encoder& online) {
  auto target = online.CloneEncoder();
  for (auto& p : target->parameters()) p.set_requires_grad(false);
  return target;
}

absl::StatusOr<std::unique_ptr<EmaUpdater>> EmaUpdater::Create(torch::nn::Module& target, torch::nn::Module& online) {
  torch::NoGradGuard no_grad;
  auto target_params = target.named_parameters(/*recurse=*/true);
  // (device, dtype) -> the pairs of that buffer, in the online module's order.
  std::map<std::pair<std::string, int>, std::vector<std::tuple<std::string, torch::Tensor, torch::Tensor>>> groups;
  std::vector<std::pair<std::string, int>> order;
  for (const auto& p : online.named_parameters(/*recurse=*/true)) {
    torch::Tensor* t = target_params.find(p.key());
    if (t == nullptr) return absl::InvalidArgumentError(absl::StrCat("EMA: the target has no parameter '", p.key(), "'"));
    const torch::Tensor& o = p.value();
    if (t->sizes() != o.sizes() || t->device() != o.device() || t->scalar_type() != o.scalar_type()) {
      return absl::InvalidArgumentError(absl::StrCat("EMA: parameter '", p.key(), "' differs between target and online "
                                                     "(shape, device or dtype)"));
    }
    const auto key = std::make_pair(o.device().str(), static_cast<int>(o.scalar_type()));
    if (!groups.count(key)) order.push_back(key);
    groups[key].emplace_back(p.key(), *t, o);
  }
  if (target_params.size() != static_cast<size_t>(online.named_parameters(true).size())) {
    return absl::InvalidArgumentError("EMA: the target has parameters the online encoder lacks");
  }
  std::unique_ptr<EmaUpdater> ema(new EmaUpdater());
  for (const auto& key : order) {
    const auto& pairs = groups[key];
    int64_t total = 0;
    for (const auto& [name, t, o] : pairs) total += o.numel();
    const torch::TensorOptions opts = std::get<2>(pairs.front()).options().requires_grad(false);
    Buffer b{torch::empty({total}, opts), torch::empty({total}, opts), torch::zeros({}, opts)};
    int64_t offset = 0;
    for (auto [name, t, o] : pairs) {
      const int64_t n = o.numel();
      torch::Tensor tv = b.target.narrow(0, offset, n).view(t.sizes());
      torch::Tensor ov = b.online.narrow(0, offset, n).view(o.sizes());
      tv.copy_(t);
      ov.copy_(o);
      t.set_data(tv);  // the module's parameter (same tensor, now a view)
      o.set_data(ov);
      ema->views_.push_back({name, t, o, t.data_ptr(), o.data_ptr()});
      offset += n;
    }
    ema->buffers_.push_back(std::move(b));
  }
  return ema;
}

void EmaUpdater::SetMomentum(double momentum) {
  torch::NoGradGuard no_grad;
  for (Buffer& b : buffers_) b.weight.fill_(1.0 - momentum);
}

void EmaUpdater::Apply() {
  torch::NoGradGuard no_grad;
  for (Buffer& b : buffers_) b.target.lerp_(b.online, b.weight);
}

void EmaUpdater::Update(double momentum) {
  SetMomentum(momentum);
  Apply();
}

absl::Status EmaUpdater::CheckIntact() const {
  for (const View& v : views_) {
    if (v.target.data_ptr() != v.target_data || v.online.data_ptr() != v.online_data) {
      return absl::InternalError(absl::StrCat(
          "EMA: parameter '", v.name, "' no longer views the EMA buffer (its module was moved or re-made after the "
          "EMA was set up): the target encoder would stop following it"));
    }
  }
  return absl::OkStatus();
}

torch::Tensor TargetLayerNorm(const torch::Tensor& features) {
  if (FusedCpuApplies(features)) return FusedLayerNorm(features, /*weight=*/{}, /*bias=*/{}, 1e-5);
  return torch::layer_norm(features, {features.size(-1)}, /*weight=*/{}, /*bias=*/{}, 1e-5);
}

}  // namespace chexworld
