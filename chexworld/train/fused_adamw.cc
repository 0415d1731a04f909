#include "chexworld/train/fused_adamw.h"

#include <ATen/Parallel.h>

#include <cmath>
#include <sstream>
#include <type_traits>

namespace chexworld {
namespace {

// The optimizer's state key of a parameter (a string in libtorch 1.x, the
// TensorImpl pointer in 2.x).
template <typename Key>
Key StateKey(c10::TensorImpl* impl) {
  if constexpr (std::is_same_v<Key, std::string>) {
    std::ostringstream os;
    os << impl;
    return os.str();
  } else {
    return static_cast<Key>(impl);
  }
}

bool Fusable(const torch::Tensor& t) {
  return t.defined() && t.device().is_cpu() && t.scalar_type() == torch::kFloat && t.is_contiguous();
}

}  // namespace

void FusedAdamWStep(torch::optim::AdamW& optimizer) {
  torch::NoGradGuard no_grad;
  using Key = typename std::decay_t<decltype(optimizer.state())>::key_type;
  for (auto& group : optimizer.param_groups()) {
    const auto& o = static_cast<const torch::optim::AdamWOptions&>(group.options());
    if (o.amsgrad()) {
      optimizer.step();  // not fused: rare, and the whole step keeps libtorch's order
      return;
    }
  }
  for (auto& group : optimizer.param_groups()) {
    const auto& o = static_cast<const torch::optim::AdamWOptions&>(group.options());
    const double lr = o.lr(), wd = o.weight_decay(), b1 = std::get<0>(o.betas()), b2 = std::get<1>(o.betas()),
                 eps = o.eps();
    for (auto& p : group.params()) {
      if (!p.grad().defined()) continue;
      const Key key = StateKey<Key>(p.unsafeGetTensorImpl());
      auto it = optimizer.state().find(key);
      if (it == optimizer.state().end()) {
        auto state = std::make_unique<torch::optim::AdamWParamState>();
        state->step(0);
        state->exp_avg(torch::zeros_like(p, torch::MemoryFormat::Preserve));
        state->exp_avg_sq(torch::zeros_like(p, torch::MemoryFormat::Preserve));
        it = optimizer.state().emplace(key, std::move(state)).first;
      }
      auto& st = static_cast<torch::optim::AdamWParamState&>(*it->second);
      st.step(st.step() + 1);
      const torch::Tensor& g = p.grad();
      if (!Fusable(p) || !Fusable(g) || !Fusable(st.exp_avg()) || !Fusable(st.exp_avg_sq())) {
        // libtorch's formula for this parameter.
        p.mul_(1 - lr * wd);
        st.exp_avg().mul_(b1).add_(g, 1 - b1);
        st.exp_avg_sq().mul_(b2).addcmul_(g, g, 1 - b2);
        const double bc1 = 1 - std::pow(b1, st.step()), bc2 = 1 - std::pow(b2, st.step());
        auto denom = (st.exp_avg_sq().sqrt() / std::sqrt(bc2)).add_(eps);
        p.addcdiv_(st.exp_avg(), denom, -lr / bc1);
        continue;
      }
      const double bc1 = 1 - std::pow(b1, st.step()), bc2 = 1 - std::pow(b2, st.step());
      const float decay = static_cast<float>(1 - lr * wd), fb1 = static_cast<float>(b1),
                  fb2 = static_cast<float>(b2), om1 = static_cast<float>(1 - b1), om2 = static_cast<float>(1 - b2),
                  inv_sqrt_bc2 = static_cast<float>(1 / std::sqrt(bc2)), feps = static_cast<float>(eps),
                  step_size = static_cast<float>(lr / bc1);
      float* pp = p.data_ptr<float>();
      const float* gp = g.data_ptr<float>();
      float* mp = st.exp_avg().data_ptr<float>();
      float* vp = st.exp_avg_sq().data_ptr<float>();
      at::parallel_for(0, p.numel(), 16384, [&](int64_t begin, int64_t end) {
        for (int64_t i = begin; i < end; ++i) {
          const float gi = gp[i];
          const float m = fb1 * mp[i] + om1 * gi;
          const float v = fb2 * vp[i] + om2 * gi * gi;
          mp[i] = m;
          vp[i] = v;
          pp[i] = pp[i] * decay - step_size * (m / (std::sqrt(v) * inv_sqrt_bc2 + feps));
        }
      });
    }
  }
}

}  // namespace chexworld
