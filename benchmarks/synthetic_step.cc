#include "benchmarks/synthetic_step.h"

#include <random>

#include "chexworld/masks/multiblock.h"
#include "chexworld/train/autocast.h"
#include "chexworld/train/grad_clip.h"
#include "chexworld/train/param_groups.h"

namespace chexworld {
namespace {

WorldModelBatch SyntheticBatch(int64_t b, int64_t channels, int64_t size, int64_t grid, const torch::Device& device) {
  MultiblockMasker masker(*ResolveMultiblockOptions(MultiblockOptions()));
  std::mt19937_64 rng(0);
  MaskBatch m = masker.Sample(b, grid, grid, 0, rng);
  WorldModelBatch batch;
  batch.image1 = torch::randn({b, channels, size, size});
  batch.image2 = torch::randn({b, channels, size, size});
  batch.image_aug1 = torch::randn({b, channels, size, size});
  batch.image_aug2 = torch::randn({b, channels, size, size});
  batch.action1 = batch.action2 = torch::tensor({1.1f, 0.9f, 1.2f, 0.0f, 0.0f}).repeat({b, 1});
  batch.rel_pos_21 = batch.rel_pos_12 = torch::tensor({0.2f, -0.1f, 0.0f, 1.0f}).repeat({b, 1});
  batch.masks_enc1 = torch::from_blob(m.context.data(), {b, m.context_len}, torch::kInt64).clone();
  batch.masks_pred1 = torch::from_blob(m.target.data(), {b, m.target_len}, torch::kInt64).clone();
  batch.masks_enc2 = batch.masks_enc1.flip(0);
  batch.masks_pred2 = batch.masks_pred1.flip(0);
  return batch.Packed(/*pin=*/device.is_cuda()).To(device);
}

}  // namespace

SyntheticStep::SyntheticStep(const SyntheticStepOptions& o) : o_(o) {
  ViTOptions vo;
  vo.set_preset(o.preset);
  vo.set_image_size(o.image_size);
  vo.set_in_channels(o.channels);
  encoder_ = std::make_shared<VisionTransformerImpl>(*ResolveViTOptions(vo));
  encoder_->to(o.device);
  target_ = MakeTargetEncoder(*encoder_);
  const int64_t g = encoder_->grid_size();
  ConditionedTransformerOptions po;
  po.set_embed_dim(o.predictor_dim);
  po.set_depth(o.predictor_depth);
  PredictorContext ctx{encoder_->embed_dim(), encoder_->num_heads(), g, g};
  predictor_ = std::make_shared<ConditionedTransformerImpl>(*ResolveConditionedTransformerOptions(po, ctx), ctx);
  predictor_->to(o.device);
  ComponentSpec spec;
  spec.set_name("chexworld");
  objective_ = *CreateObjective(spec);
  ComponentSpec adamw;
  adamw.set_name("adamw");
  optimizer_ = *CreateOptimizer(adamw, WorldModelParamGroups(*encoder_, *predictor_));
  ema_ = *EmaUpdater::Create(*target_, *encoder_);
  for (const auto& list : {encoder_->parameters(), predictor_->parameters()}) {
    for (const auto& p : list) {
      if (p.requires_grad()) params_.push_back(p);
    }
  }
  batch_ = SyntheticBatch(o.batch, o.channels, o.image_size, g, o.device);
  shape_.tokens = g * g;
  shape_.patch = encoder_->patch_size();
  shape_.channels = o.channels;
  shape_.enc_dim = encoder_->embed_dim();
  shape_.enc_depth = encoder_->depth();
  shape_.pred_dim = o.predictor_dim;
  shape_.pred_depth = o.predictor_depth;
  shape_.action_dim = predictor_->action_dim();
  shape_.context = batch_.masks_enc1.size(1);
  shape_.target = batch_.masks_pred1.size(1);
}

void SyntheticStep::Forward() {
  AutocastGuard autocast(o_.device, o_.bf16);
  out_ = objective_->Compute(*encoder_, *target_, *predictor_, batch_);
}

void SyntheticStep::Backward() { out_.loss.to(torch::kFloat32).backward(); }

void SyntheticStep::Optimize() {
  optimizer_->SetHyperparameters(1e-4, 0.05);
  ClipGradNorm(params_, 1.0);
  optimizer_->Step();
  ClearGradients(params_);
}

void SyntheticStep::Ema() { ema_->Update(0.996); }

}  // namespace chexworld
