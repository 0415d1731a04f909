#include "chexworld/objectives/world_model_loss.h"

#include "chexworld/models/ema.h"

namespace chexworld {
namespace {

torch::Tensor Gather(const torch::Tensor& tokens, const torch::Tensor& idx) {
  return torch::gather(tokens, 1, idx.unsqueeze(-1).expand({-1, -1, tokens.size(-1)}));
}

// Mean over samples and channels of the std over tokens (dim 1).
double TokenStd(const torch::Tensor& x, double eps = 0.0) {
  if (x.size(1) < 2) return 0.0;
  return (x.detach().var(1, /*unbiased=*/true) + eps).sqrt().mean().item<double>();
}

}  // namespace

WorldModelTerms ComputeWorldModelLoss(Encoder& context_encoder, Encoder& target_encoder, Predictor& predictor,
                                      const WorldModelBatch& b, const WorldModelLossOptions& o) {
  WorldModelTerms t;
  const bool two = b.two_views();
  {
    torch::NoGradGuard no_grad;
    auto full1 = target_encoder.Forward(b.image1);
    t.H1 = Gather(TargetLayerNorm(full1), b.masks_pred1);
    if (o.keep_trace) t.target1_norm = full1;
    if (two) {
      auto full2 = target_encoder.Forward(b.image2);
      t.H2 = Gather(TargetLayerNorm(full2), b.masks_pred2);
      if (o.keep_trace) t.target2_norm = full2;
    }
  }
  auto trace = [&](int i) { return o.keep_trace ? &t.traces[i] : nullptr; };
  t.Z1 = context_encoder.Forward(b.image_aug1, b.masks_enc1);
  t.P11 = predictor.Forward({t.Z1, b.masks_enc1, b.masks_pred1, b.action1, {}}, trace(0));
  t.loss_11 = torch::mse_loss(t.P11, t.H1);
  if (!two) {
    t.loss_intra = t.loss_11;
    t.loss = t.loss_11;
    t.pred_std = TokenStd(t.P11);
    t.pred_var = TokenStd(t.P11, 1e-4);
    t.target_std = TokenStd(t.H1);
    return t;
  }
  t.Z2 = context_encoder.Forward(b.image_aug2, b.masks_enc2);
  t.P22 = predictor.Forward({t.Z2, b.masks_enc2, b.masks_pred2, b.action2, {}}, trace(1));
  t.loss_22 = torch::mse_loss(t.P22, t.H2);
  t.loss_intra = 0.5 * (t.loss_11 + t.loss_22);
  t.loss = t.loss_intra;
  if (o.cross_view) {
    t.P21 = predictor.Forward({t.Z1, b.masks_enc1, b.masks_pred2, b.action1, b.rel_pos_21}, trace(2));
    t.P12 = predictor.Forward({t.Z2, b.masks_enc2, b.masks_pred1, b.action2, b.rel_pos_12}, trace(3));
    t.loss_21 = torch::mse_loss(t.P21, t.H2);
    t.loss_12 = torch::mse_loss(t.P12, t.H1);
    t.loss_extra = 0.5 * (t.loss_21 + t.loss_12);
    t.loss = t.loss_intra + o.cross_view_weight * t.loss_extra;
    if (o.extra_mean) t.loss = t.loss / (1.0 + o.cross_view_weight);
  }
  std::vector<torch::Tensor> preds = {t.P11, t.P22};
  if (o.cross_view) preds.insert(preds.end(), {t.P21, t.P12});
  for (const auto& p : preds) {
    t.pred_std += TokenStd(p) / preds.size();
    t.pred_var += TokenStd(p, 1e-4) / preds.size();
  }
  t.target_std = 0.5 * (TokenStd(t.H1) + TokenStd(t.H2));
  return t;
}

}  // namespace chexworld
