#include "chexworld/models/layers/transformer.h"

#include <cmath>

#include "chexworld/models/layers/attention_core.h"
#include "chexworld/models/layers/fused_cpu_ops.h"

namespace chexworld {

torch::Tensor DropPath(const torch::Tensor& x, double p, bool training) {
  if (p <= 0.0 || !training) return x;
  const double keep = 1.0 - p;
  std::vector<int64_t> shape(x.dim(), 1);
  shape[0] = x.size(0);
  auto mask = (keep + torch::rand(shape, x.options())).floor_();
  return x.div(keep) * mask;
}

AttentionImpl::AttentionImpl(int64_t dim, int64_t num_heads) : dim_(dim), heads_(num_heads) {
  TORCH_CHECK(dim % num_heads == 0, "width ", dim, " is not divisible by ", num_heads, " heads");
  reset();
}

void AttentionImpl::reset() {
  qkv = register_module("qkv", torch::nn::Linear(torch::nn::LinearOptions(dim_, 3 * dim_).bias(true)));
  proj = register_module("proj", torch::nn::Linear(dim_, dim_));
}

torch::Tensor AttentionImpl::forward(const torch::Tensor& x) {
  const double scale = 1.0 / std::sqrt(static_cast<double>(dim_ / heads_));
  return proj(AttentionCore(qkv(x), heads_, scale));
}

MlpImpl::MlpImpl(int64_t dim, int64_t hidden) : dim_(dim), hidden_(hidden) { reset(); }

void MlpImpl::reset() {
  fc1 = register_module("fc1", torch::nn::Linear(dim_, hidden_));
  fc2 = register_module("fc2", torch::nn::Linear(hidden_, dim_));
}

torch::Tensor MlpImpl::forward(const torch::Tensor& x) {
  if (FusedCpuApplies(x)) return fc2(FusedLinearGelu(x, fc1->weight, fc1->bias));
  return fc2(torch::gelu(fc1(x)));
}

torch::Tensor ApplyLayerNorm(torch::nn::LayerNorm norm, const torch::Tensor& x) {
  const auto& o = norm->options;
  if (o.normalized_shape().size() == 1 && FusedCpuApplies(x)) {
    return FusedLayerNorm(x, norm->weight, norm->bias, o.eps());
  }
  return norm->forward(x);
}

BlockImpl::BlockImpl(int64_t dim, int64_t num_heads, double mlp_ratio, double drop_path_rate,
                     double ln_eps)
    : drop_path(drop_path_rate), dim_(dim), heads_(num_heads), mlp_ratio_(mlp_ratio), ln_eps_(ln_eps) {
  reset();
}

void BlockImpl::reset() {
  norm1 = register_module("norm1", torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim_}).eps(ln_eps_)));
  attn = register_module("attn", Attention(dim_, heads_));
  norm2 = register_module("norm2", torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim_}).eps(ln_eps_)));
  mlp = register_module("mlp", Mlp(dim_, static_cast<int64_t>(dim_ * mlp_ratio_)));
}

torch::Tensor BlockImpl::forward(const torch::Tensor& x) {
  auto h = x + DropPath(attn(ApplyLayerNorm(norm1, x)), drop_path, is_training());
  return h + DropPath(mlp(ApplyLayerNorm(norm2, h)), drop_path, is_training());
}

void TruncNormal_(torch::Tensor t, double std, double a, double b) {
  torch::NoGradGuard no_grad;
  // Inverse-CDF sampling as timm's trunc_normal_ (mean 0).
  auto cdf = [](double x) { return (1.0 + std::erf(x / std::sqrt(2.0))) / 2.0; };
  const double l = cdf(a / std), u = cdf(b / std);
  t.uniform_(2 * l - 1, 2 * u - 1);
  t.erfinv_();
  t.mul_(std * std::sqrt(2.0));
  t.clamp_(a, b);
}

void InitWeights(torch::nn::Module& module, double std) {
  torch::NoGradGuard no_grad;
  for (auto& m : module.modules(/*include_self=*/false)) {
    if (auto* linear = m->as<torch::nn::Linear>()) {
      TruncNormal_(linear->weight, std);
      if (linear->bias.defined()) linear->bias.zero_();
    } else if (auto* conv = m->as<torch::nn::Conv2d>()) {
      TruncNormal_(conv->weight, std);
      if (conv->bias.defined()) conv->bias.zero_();
    } else if (auto* ln = m->as<torch::nn::LayerNorm>()) {
      if (ln->weight.defined()) ln->weight.fill_(1.0);
      if (ln->bias.defined()) ln->bias.zero_();
    }
  }
}

}  // namespace chexworld
