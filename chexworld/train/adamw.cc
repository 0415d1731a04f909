#include "chexworld/train/adamw.h"

#include <ATen/ATen.h>

namespace chexworld {
namespace {

torch::optim::AdamWParamState& StateOf(torch::optim::AdamW& adamw, const torch::Tensor& p, int64_t steps) {
  auto& state = adamw.state();
  auto it = state.find(p.unsafeGetTensorImpl());
  if (it == state.end()) {
    auto s = std::make_unique<torch::optim::AdamWParamState>();
    s->step(steps);
    s->exp_avg(torch::zeros_like(p, torch::MemoryFormat::Preserve));
    s->exp_avg_sq(torch::zeros_like(p, torch::MemoryFormat::Preserve));
    it = state.emplace(p.unsafeGetTensorImpl(), std::move(s)).first;
  }
  return static_cast<torch::optim::AdamWParamState&>(*it->second);
}

}  // namespace

MultiTensorAdamW::MultiTensorAdamW(const ParamGroups& groups, double beta1, double beta2, double eps)
    : adamw_(MakeAdamW(groups, 0.0, 0.0, beta1, beta2, eps)),
      beta1_(beta1),
      beta2_(beta2),
      eps_(eps),
      has_decay_group_(!groups.decay.empty()) {
  torch::Device device(torch::kCPU);
  for (const auto& g : adamw_->param_groups()) {
    if (!g.params().empty()) device = g.params().front().device();
  }
  // float32, as PyTorch keeps the step of its fused and capturable optimizers.
  const auto o = torch::TensorOptions().dtype(torch::kFloat32).device(device);
  step_ = torch::zeros({}, o);
  lr_t_ = torch::zeros({}, o);
  decay_t_ = torch::ones({}, o);
}

void MultiTensorAdamW::SetHyperparameters(double lr, double weight_decay) {
  lr_ = lr;
  weight_decay_ = weight_decay;
  torch::NoGradGuard no_grad;
  lr_t_.fill_(lr);
  decay_t_.fill_(1.0 - lr * weight_decay);
}

void MultiTensorAdamW::Prepare() {
  // The step count a loaded checkpoint holds (every tensor steps together).
  int64_t steps = 0;
  for (auto& g : adamw_->param_groups()) {
    for (auto& p : g.params()) {
      auto it = adamw_->state().find(p.unsafeGetTensorImpl());
      if (it != adamw_->state().end()) {
        steps = static_cast<torch::optim::AdamWParamState&>(*it->second).step();
        break;
      }
    }
  }
  groups_.clear();
  const auto& libtorch_groups = adamw_->param_groups();
  for (size_t i = 0; i < libtorch_groups.size(); ++i) {
    Group g;
    g.decay = i == 0 && has_decay_group_;  // MakeAdamW: group 0 = decay, when there is one
    for (const auto& p : libtorch_groups[i].params()) {
      auto& s = StateOf(*adamw_, p, steps);
      g.params.push_back(p);
      g.exp_avgs.push_back(s.exp_avg());
      g.exp_avg_sqs.push_back(s.exp_avg_sq());
      g.steps.push_back(step_);
    }
    groups_.push_back(std::move(g));
  }
  torch::NoGradGuard no_grad;
  step_.fill_(static_cast<double>(steps));
  prepared_ = true;
}

void MultiTensorAdamW::Step() {
  if (!prepared_) Prepare();
  torch::NoGradGuard no_grad;
  step_.add_(1);
  for (Group& g : groups_) {
    std::vector<torch::Tensor> grads;
    grads.reserve(g.params.size());
    bool all = true;
    for (const auto& p : g.params) {
      all = all && p.grad().defined();
      grads.push_back(p.grad());
    }
    if (all) {
      if (g.decay) at::_foreach_mul_(g.params, decay_t_);
      at::_fused_adam_(g.params, grads, g.exp_avgs, g.exp_avg_sqs, /*max_exp_avg_sqs=*/{}, g.steps, lr_t_, beta1_,
                       beta2_, /*weight_decay=*/0.0, eps_, /*amsgrad=*/false, /*maximize=*/false);
      continue;
    }
    // Tensors without a gradient this step are left alone (their step count
    // advances with the others: one count for the whole model).
    Group some;
    std::vector<torch::Tensor> some_grads;
    for (size_t k = 0; k < g.params.size(); ++k) {
      if (!grads[k].defined()) continue;
      some.params.push_back(g.params[k]);
      some.exp_avgs.push_back(g.exp_avgs[k]);
      some.exp_avg_sqs.push_back(g.exp_avg_sqs[k]);
      some.steps.push_back(step_);
      some_grads.push_back(grads[k]);
    }
    if (some.params.empty()) continue;
    if (g.decay) at::_foreach_mul_(some.params, decay_t_);
    at::_fused_adam_(some.params, some_grads, some.exp_avgs, some.exp_avg_sqs, {}, some.steps, lr_t_, beta1_, beta2_,
                     0.0, eps_, false, false);
  }
}

const torch::optim::AdamW& MultiTensorAdamW::state() {
  auto& groups = adamw_->param_groups();
  for (size_t i = 0; i < groups.size(); ++i) {
    auto& o = static_cast<torch::optim::AdamWOptions&>(groups[i].options());
    o.lr(lr_);
    o.weight_decay(i == 0 && has_decay_group_ ? weight_decay_ : 0.0);
  }
  if (prepared_) {
    torch::NoGradGuard no_grad;
    const int64_t steps = static_cast<int64_t>(step_.item<double>());
    for (auto& g : adamw_->param_groups()) {
      for (auto& p : g.params()) StateOf(*adamw_, p, steps).step(steps);
    }
  }
  return *adamw_;
}

void MultiTensorAdamW::LoadState(torch::serialize::InputArchive& archive) {
  adamw_->load(archive);
  prepared_ = false;  // new moment tensors and a new count: the next Step() takes them up
}

}  // namespace chexworld
