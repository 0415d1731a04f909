#include "chexworld/objectives/world_model_loss.h"

#include <tuple>
#include <utility>

#include "chexworld/models/ema.h"

namespace chexworld {
namespace {

torch::Tensor Gather(const torch::Tensor& tokens, const torch::Tensor& idx) {
  return torch::gather(tokens, 1, idx.unsqueeze(-1).expand({-1, -1, tokens.size(-1)}));
}

// Mean over samples and channels of the std over tokens (dim 1): a 0-dim
// float32 tensor on x's device (no host synchronisation).
torch::Tensor TokenStd(const torch::Tensor& x, double eps = 0.0) {
  if (x.size(1) < 2) return torch::zeros({}, x.options().dtype(torch::kFloat32));
  return (x.detach().to(torch::kFloat32).var(1, /*unbiased=*/true) + eps).sqrt().mean();
}

// True when two optional tensors can be stacked along the batch dimension.
bool Stackable(const torch::Tensor& a, const torch::Tensor& b) {
  if (a.defined() != b.defined()) return false;
  return !a.defined() || (a.dim() == b.dim() && a.dim() > 0 && a.sizes().slice(1) == b.sizes().slice(1));
}

torch::Tensor Stack(const torch::Tensor& a, const torch::Tensor& b) {
  return a.defined() ? torch::cat({a, b}) : torch::Tensor();
}

// The first `n` rows of x and the rest; a tensor not batched as the pair
// (e.g. broadcast over the batch) goes to both.
std::pair<torch::Tensor, torch::Tensor> Unstack(const torch::Tensor& x, int64_t n, int64_t total) {
  if (!x.defined() || x.dim() == 0 || x.size(0) != total) return {x, x};
  return {x.narrow(0, 0, n), x.narrow(0, n, total - n)};
}

// Two passes of the same network run as one batch when their inputs stack
// (the loader gives both views the same mask lengths): half the operator
// calls and twice the rows per matrix product, for the same result.
std::pair<torch::Tensor, torch::Tensor> EncodePair(bool stack, Encoder& encoder, const torch::Tensor& images_a,
                                                   const torch::Tensor& keep_a, const torch::Tensor& images_b,
                                                   const torch::Tensor& keep_b) {
  if (!stack || !Stackable(images_a, images_b) || !Stackable(keep_a, keep_b)) {
    return {encoder.Forward(images_a, keep_a), encoder.Forward(images_b, keep_b)};
  }
  auto both = encoder.Forward(Stack(images_a, images_b), Stack(keep_a, keep_b));
  return Unstack(both, images_a.size(0), both.size(0));
}

std::pair<torch::Tensor, torch::Tensor> PredictPair(bool stack_views, Predictor& predictor,
                                                    const PredictorInputs& a, const PredictorInputs& b,
                                                    PredictorTrace* trace_a, PredictorTrace* trace_b) {
  const bool stack = stack_views && Stackable(a.context, b.context) && Stackable(a.context_idx, b.context_idx) &&
                     Stackable(a.target_idx, b.target_idx) && Stackable(a.action, b.action) &&
                     Stackable(a.rel_pos, b.rel_pos);
  if (!stack) return {predictor.Forward(a, trace_a), predictor.Forward(b, trace_b)};
  PredictorInputs ab{Stack(a.context, b.context), Stack(a.context_idx, b.context_idx),
                     Stack(a.target_idx, b.target_idx), Stack(a.action, b.action), Stack(a.rel_pos, b.rel_pos)};
  PredictorTrace trace;
  auto both = predictor.Forward(ab, trace_a != nullptr ? &trace : nullptr);
  const int64_t n = a.context.size(0), total = both.size(0);
  if (trace_a != nullptr) {
    std::tie(trace_a->relpos_embed, trace_b->relpos_embed) = Unstack(trace.relpos_embed, n, total);
    std::tie(trace_a->policy_in, trace_b->policy_in) = Unstack(trace.policy_in, n, total);
    std::tie(trace_a->policy_out, trace_b->policy_out) = Unstack(trace.policy_out, n, total);
    std::tie(trace_a->blocks_in, trace_b->blocks_in) = Unstack(trace.blocks_in, n, total);
  }
  return Unstack(both, n, total);
}

}  // namespace

WorldModelTerms ComputeWorldModelLoss(Encoder& context_encoder, Encoder& target_encoder, Predictor& predictor,
                                      const WorldModelBatch& b, const WorldModelLossOptions& o) {
  WorldModelTerms t;
  const bool two = b.two_views();
  auto trace = [&](int i) { return o.keep_trace ? &t.traces[i] : nullptr; };
  if (!two) {
    {
      torch::NoGradGuard no_grad;
      auto full1 = target_encoder.Forward(b.image1);
      t.H1 = Gather(TargetLayerNorm(full1), b.masks_pred1);
      if (o.keep_trace) t.target1_norm = full1;
    }
    t.Z1 = context_encoder.Forward(b.image_aug1, b.masks_enc1);
    t.P11 = predictor.Forward({t.Z1, b.masks_enc1, b.masks_pred1, b.action1, {}}, trace(0));
    t.loss_11 = torch::mse_loss(t.P11, t.H1);
    t.loss_intra = t.loss_11;
    t.loss = t.loss_11;
    t.pred_std = TokenStd(t.P11);
    t.pred_var = TokenStd(t.P11, 1e-4);
    t.target_std = TokenStd(t.H1);
    return t;
  }
  {
    torch::NoGradGuard no_grad;
    auto [full1, full2] = EncodePair(o.stack_views, target_encoder, b.image1, {}, b.image2, {});
    t.H1 = Gather(TargetLayerNorm(full1), b.masks_pred1);
    t.H2 = Gather(TargetLayerNorm(full2), b.masks_pred2);
    if (o.keep_trace) {
      t.target1_norm = full1;
      t.target2_norm = full2;
    }
  }
  std::tie(t.Z1, t.Z2) = EncodePair(o.stack_views, context_encoder, b.image_aug1, b.masks_enc1, b.image_aug2, b.masks_enc2);
  std::tie(t.P11, t.P22) = PredictPair(o.stack_views, predictor, {t.Z1, b.masks_enc1, b.masks_pred1, b.action1, {}},
                                       {t.Z2, b.masks_enc2, b.masks_pred2, b.action2, {}}, trace(0), trace(1));
  t.loss_11 = torch::mse_loss(t.P11, t.H1);
  t.loss_22 = torch::mse_loss(t.P22, t.H2);
  t.loss_intra = 0.5 * (t.loss_11 + t.loss_22);
  t.loss = t.loss_intra;
  if (o.cross_view) {
    std::tie(t.P21, t.P12) =
        PredictPair(o.stack_views, predictor, {t.Z1, b.masks_enc1, b.masks_pred2, b.action1, b.rel_pos_21},
                    {t.Z2, b.masks_enc2, b.masks_pred1, b.action2, b.rel_pos_12}, trace(2), trace(3));
    t.loss_21 = torch::mse_loss(t.P21, t.H2);
    t.loss_12 = torch::mse_loss(t.P12, t.H1);
    t.loss_extra = 0.5 * (t.loss_21 + t.loss_12);
    t.loss = t.loss_intra + o.cross_view_weight * t.loss_extra;
    if (o.extra_mean) t.loss = t.loss / (1.0 + o.cross_view_weight);
  }
  std::vector<torch::Tensor> preds = {t.P11, t.P22};
  if (o.cross_view) preds.insert(preds.end(), {t.P21, t.P12});
  std::vector<torch::Tensor> stds, vars;
  for (const auto& p : preds) {
    stds.push_back(TokenStd(p));
    vars.push_back(TokenStd(p, 1e-4));
  }
  t.pred_std = torch::stack(stds).mean();
  t.pred_var = torch::stack(vars).mean();
  t.target_std = 0.5 * (TokenStd(t.H1) + TokenStd(t.H2));
  return t;
}

}  // namespace chexworld
