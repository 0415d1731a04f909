// Parity with the official CheXWorld PyTorch code (iwm_dual_easy), using the
// fixtures in ../shared/fixtures (see their README): weights, inputs and every
// intermediate output of one training step, its gradients, one AdamW step and
// one EMA update. Skips, saying so, when the fixtures are absent.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>

#include "chexworld/core/paths.h"
#include "chexworld/models/checkpoint/state_dict.h"
#include "chexworld/models/ema.h"
#include "chexworld/models/encoders/vit.h"
#include "chexworld/models/layers/pos_embed.h"
#include "chexworld/models/predictors/conditioned_transformer.h"
#include "chexworld/objectives/world_model_loss.h"
#include "chexworld/testing/h5_tensors.h"
#include "chexworld/train/adamw.h"
#include "chexworld/train/param_groups.h"

namespace chexworld {
namespace {

std::string FixturePath(const std::string& name) {
  const std::string dir = SharedDataDir();
  return dir.empty() ? "" : dir + "/fixtures/" + name;
}

// max |a - b|, as a double.
double MaxDiff(const torch::Tensor& a, const torch::Tensor& b) {
  return (a.detach().to(torch::kFloat64) - b.detach().to(torch::kFloat64)).abs().max().item<double>();
}

#define EXPECT_CLOSE(actual, expected, atol)                                                  \
  do {                                                                                         \
    auto _a = (actual);                                                                        \
    auto _e = (expected);                                                                      \
    ASSERT_EQ(_a.sizes(), _e.sizes()) << #actual;                                              \
    EXPECT_LE(MaxDiff(_a, _e), atol) << #actual << " deviates from the official output";      \
  } while (0)

class OfficialParityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string path = FixturePath("chexworld_parity_small.h5");
    if (path.empty()) {
      GTEST_SKIP() << "no shared data folder (../shared or $CHEXWORLD_SHARED_DIR): the parity fixtures were not compared";
    }
    if (access(path.c_str(), R_OK) != 0) {
      FAIL() << path << " is missing although the shared data folder exists";
    }
    auto file = H5TensorFile::Open(path);
    ASSERT_TRUE(file.ok()) << file.status();
    h5_ = std::make_unique<H5TensorFile>(std::move(*file));

    ViTOptions vit;
    vit.set_image_size(64);
    vit.set_patch_size(16);
    vit.set_in_channels(3);
    vit.set_embed_dim(96);
    vit.set_depth(2);
    vit.set_num_heads(3);
    auto resolved = ResolveViTOptions(vit);
    ASSERT_TRUE(resolved.ok()) << resolved.status();
    encoder_ = std::make_shared<VisionTransformerImpl>(*resolved);
    target_ = MakeTargetEncoder(*encoder_);

    ConditionedTransformerOptions pred;
    pred.set_embed_dim(48);
    pred.set_depth(2);
    PredictorContext ctx{96, 3, 4, 4};
    auto pred_resolved = ResolveConditionedTransformerOptions(pred, ctx);
    ASSERT_TRUE(pred_resolved.ok()) << pred_resolved.status();
    predictor_ = std::make_shared<ConditionedTransformerImpl>(*pred_resolved, ctx);

    auto names = h5_->List("/state_dict");
    ASSERT_TRUE(names.ok()) << names.status();
    for (const auto& name : *names) state_dict_.emplace_back(name, Read("/state_dict/" + name));
    ASSERT_EQ(state_dict_.size(), 96u);
    for (auto [prefix, module] : std::vector<std::pair<std::string, torch::nn::Module*>>{
             {"encoder.", encoder_.get()}, {"target_encoder.", target_.get()}, {"predictor.", predictor_.get()}}) {
      auto report = LoadStateDict(*module, SelectPrefix(state_dict_, prefix), LoadMode::kStrict);
      ASSERT_TRUE(report.ok()) << prefix << ": " << report.status();
    }
    encoder_->train();
    target_->train();
    predictor_->train();
  }

  torch::Tensor Read(const std::string& name) {
    auto t = h5_->Read(name);
    EXPECT_TRUE(t.ok()) << t.status();
    return t.ok() ? *t : torch::Tensor();
  }

  WorldModelBatch Batch() {
    WorldModelBatch b;
    b.image1 = Read("/inputs/image1");
    b.image2 = Read("/inputs/image2");
    b.image_aug1 = Read("/inputs/image_aug1");
    b.image_aug2 = Read("/inputs/image_aug2");
    b.action1 = Read("/inputs/aug_params1");
    b.action2 = Read("/inputs/aug_params2");
    b.rel_pos_21 = Read("/inputs/rel_pos_21");
    b.rel_pos_12 = Read("/inputs/rel_pos_12");
    b.masks_enc1 = Read("/inputs/masks_enc1");
    b.masks_pred1 = Read("/inputs/masks_pred1");
    b.masks_enc2 = Read("/inputs/masks_enc2");
    b.masks_pred2 = Read("/inputs/masks_pred2");
    return b;
  }

  std::unique_ptr<H5TensorFile> h5_;
  std::shared_ptr<VisionTransformerImpl> encoder_;
  std::shared_ptr<Encoder> target_;
  std::shared_ptr<ConditionedTransformerImpl> predictor_;
  NamedTensors state_dict_;
};

TEST_F(OfficialParityTest, PositionEmbeddings) {
  EXPECT_CLOSE(SinCos2D(96, 4, 4), Read("/outputs/encoder_pos_embed"), 1e-6);
  EXPECT_CLOSE(SinCos2D(48, 4, 4), Read("/outputs/predictor_pos_embed"), 1e-6);
  EXPECT_CLOSE(RelativeSinCos2D(torch::zeros({4, 4}), 48, 4, 4), Read("/outputs/relpos_embed_zero"), 1e-6);
  EXPECT_CLOSE(RelativeSinCos2D(Read("/inputs/rel_pos_21"), 48, 4, 4), Read("/outputs/relpos_embed_21"), 1e-6);
  EXPECT_CLOSE(RelativeSinCos2D(Read("/inputs/rel_pos_12"), 48, 4, 4), Read("/outputs/relpos_embed_12"), 1e-6);
  // The official transposition: with zero offset, mask token (r, c) = context token (c, r).
  auto rel = RelativeSinCos2D(torch::zeros({1, 4}), 48, 4, 4)[0].reshape({4, 4, 48});
  auto ctx = SinCos2D(48, 4, 4)[0].reshape({4, 4, 48});
  EXPECT_LE(MaxDiff(rel, ctx.transpose(0, 1)), 1e-6);
}

TEST_F(OfficialParityTest, ForwardLossesGradientsAdamWAndEma) {
  WorldModelBatch batch = Batch();
  // Target-encoder intermediates.
  auto layers = target_->ForwardLayers(batch.image1);
  EXPECT_CLOSE(layers[0], Read("/outputs/target1_layer0"), 1e-5);
  EXPECT_CLOSE(layers.back(), Read("/outputs/target1_norm"), 1e-5);
  EXPECT_CLOSE(TargetLayerNorm(layers.back()), Read("/outputs/target1_ln"), 1e-5);
  EXPECT_CLOSE(target_->ForwardLayers(batch.image2)[0], Read("/outputs/target2_layer0"), 1e-5);

  // The views' passes stacked into one batch (the default) and run one by one
  // must both match; the gradient and optimizer checks below use the default.
  WorldModelLossOptions separate;
  separate.keep_trace = true;
  separate.stack_views = false;
  WorldModelTerms u = ComputeWorldModelLoss(*encoder_, *target_, *predictor_, batch, separate);
  EXPECT_CLOSE(u.Z2, Read("/outputs/Z2"), 1e-5);
  EXPECT_CLOSE(u.P21, Read("/outputs/P21"), 1e-5);
  EXPECT_CLOSE(u.traces[3].blocks_in, Read("/outputs/pred_blocks_in_12"), 1e-5);
  EXPECT_CLOSE(u.loss, Read("/outputs/loss"), 1e-6);
  u.loss.backward();
  double usq = 0;
  for (auto* m : std::initializer_list<torch::nn::Module*>{encoder_.get(), predictor_.get()}) {
    for (auto& p : m->parameters()) {
      if (p.grad().defined()) usq += p.grad().to(torch::kFloat64).pow(2).sum().item<double>();
    }
    m->zero_grad();
  }
  EXPECT_NEAR(std::sqrt(usq), Read("/outputs/grad_total_norm").item<double>(), 1e-4);

  WorldModelLossOptions options;
  options.keep_trace = true;
  WorldModelTerms t = ComputeWorldModelLoss(*encoder_, *target_, *predictor_, batch, options);
  EXPECT_CLOSE(t.target2_norm, Read("/outputs/target2_norm"), 1e-5);
  EXPECT_CLOSE(TargetLayerNorm(t.target2_norm), Read("/outputs/target2_ln"), 1e-5);
  EXPECT_CLOSE(t.H1, Read("/outputs/H1"), 1e-5);
  EXPECT_CLOSE(t.H2, Read("/outputs/H2"), 1e-5);
  EXPECT_CLOSE(t.Z1, Read("/outputs/Z1"), 1e-5);
  EXPECT_CLOSE(t.Z2, Read("/outputs/Z2"), 1e-5);
  const char* passes[] = {"11", "22", "21", "12"};
  const torch::Tensor* preds[] = {&t.P11, &t.P22, &t.P21, &t.P12};
  for (int i = 0; i < 4; ++i) {
    SCOPED_TRACE(std::string("pass ") + passes[i]);
    const std::string s = passes[i];
    EXPECT_CLOSE(t.traces[i].policy_in, Read("/outputs/policy_in_" + s), 1e-5);
    EXPECT_CLOSE(t.traces[i].policy_out, Read("/outputs/policy_out_" + s), 1e-5);
    EXPECT_CLOSE(t.traces[i].blocks_in, Read("/outputs/pred_blocks_in_" + s), 1e-5);
    EXPECT_CLOSE(*preds[i], Read("/outputs/P" + s), 1e-5);
  }
  EXPECT_CLOSE(t.traces[0].relpos_embed, Read("/outputs/relpos_embed_zero"), 1e-6);
  EXPECT_CLOSE(t.traces[2].relpos_embed, Read("/outputs/relpos_embed_21"), 1e-6);
  EXPECT_CLOSE(t.traces[3].relpos_embed, Read("/outputs/relpos_embed_12"), 1e-6);
  EXPECT_CLOSE(t.loss_11, Read("/outputs/loss_11"), 1e-6);
  EXPECT_CLOSE(t.loss_22, Read("/outputs/loss_22"), 1e-6);
  EXPECT_CLOSE(t.loss_21, Read("/outputs/loss_21"), 1e-6);
  EXPECT_CLOSE(t.loss_12, Read("/outputs/loss_12"), 1e-6);
  EXPECT_CLOSE(t.loss_intra, Read("/outputs/loss_intra"), 1e-6);
  EXPECT_CLOSE(t.loss_extra, Read("/outputs/loss_extra"), 1e-6);
  EXPECT_CLOSE(t.loss, Read("/outputs/loss"), 1e-6);
  EXPECT_NEAR(t.pred_var.item<double>(), Read("/outputs/pred_var").item<double>(), 1e-6);

  // Gradients.
  t.loss.backward();
  std::map<std::string, torch::Tensor> params;
  NamedParameters trainable = TrainableParameters(*encoder_, "encoder.");
  for (auto& kv : TrainableParameters(*predictor_, "predictor.")) trainable.push_back(kv);
  double sq = 0;
  for (const auto& [name, p] : trainable) {
    params[name] = p;
    ASSERT_TRUE(p.grad().defined()) << name;
    sq += p.grad().to(torch::kFloat64).pow(2).sum().item<double>();
  }
  EXPECT_NEAR(std::sqrt(sq), Read("/outputs/grad_total_norm").item<double>(), 1e-4);
  auto grad_names = h5_->List("/outputs/grad");
  ASSERT_TRUE(grad_names.ok());
  ASSERT_EQ(grad_names->size(), 12u);
  std::map<std::string, torch::Tensor> ref_grads;
  for (const auto& name : *grad_names) {
    SCOPED_TRACE(name);
    ASSERT_TRUE(params.count(name)) << "no trainable parameter " << name;
    auto ref = Read("/outputs/grad/" + name);
    ref_grads[name] = ref;
    const double atol = name == "predictor.policy_net.4.bias" ? 1e-4 * ref.abs().max().item<double>() + 1e-5 : 1e-5;
    EXPECT_CLOSE(params[name].grad(), ref, atol);
  }

  // Parameter groups as the official optimizer.
  ParamGroups groups = SplitWeightDecay(trainable);
  auto decay_json = h5_->StringAttribute("/config", "decay_params");
  ASSERT_TRUE(decay_json.ok()) << decay_json.status();
  for (const auto& [name, p] : groups.decay) EXPECT_THAT(*decay_json, ::testing::HasSubstr("\"" + name + "\"")) << name;
  auto no_decay_json = h5_->StringAttribute("/config", "no_decay_params");
  ASSERT_TRUE(no_decay_json.ok());
  for (const auto& [name, p] : groups.no_decay) EXPECT_THAT(*no_decay_json, ::testing::HasSubstr("\"" + name + "\""));
  EXPECT_THAT(*decay_json, ::testing::HasSubstr("\"predictor.mask_token\""));

  // One AdamW step (no clipping), then EMA 0.99.
  MultiTensorAdamW adamw(groups, 0.9, 0.999, 1e-8);  // the trainer's step
  adamw.SetHyperparameters(1e-3, 0.05);
  adamw.Step();
  auto ema = EmaUpdater::Create(*target_, *encoder_);
  ASSERT_TRUE(ema.ok()) << ema.status();
  (*ema)->Update(0.99);
  std::map<std::string, torch::Tensor> target_params;
  for (const auto& p : target_->named_parameters()) target_params["target_encoder." + p.key()] = p.value();
  auto after = h5_->List("/after_step");
  ASSERT_TRUE(after.ok());
  for (const auto& name : *after) {
    SCOPED_TRACE(name);
    auto ref = Read("/after_step/" + name);
    torch::Tensor mine = params.count(name) ? params[name] : target_params[name];
    ASSERT_TRUE(mine.defined()) << name;
    if (ref_grads.count(name)) {
      // Elements with |grad| < 1e-6 move by up to lr through eps (fixture README §3).
      auto reliable = ref_grads[name].abs() >= 1e-6;
      EXPECT_LE(MaxDiff(mine.masked_select(reliable), ref.masked_select(reliable)), 1e-5);
      EXPECT_LE(MaxDiff(mine, ref), 1.01e-3);
    } else {
      EXPECT_CLOSE(mine, ref, 1e-5);
    }
  }
}

TEST_F(OfficialParityTest, OfficialTorchSaveFilesLoadBitExact) {
  std::map<std::string, double> scalars;
  for (const char* file : {"chexworld_parity_small_state_dict.pt", "chexworld_parity_small_ckpt.pth"}) {
    SCOPED_TRACE(file);
    scalars.clear();
    auto sd = ReadTorchStateDict(FixturePath(file), &scalars);
    ASSERT_TRUE(sd.ok()) << sd.status();
    ASSERT_EQ(sd->size(), 96u);
    std::map<std::string, torch::Tensor> h5;
    for (const auto& [k, v] : state_dict_) h5[k] = v;
    for (const auto& [key, tensor] : *sd) {
      ASSERT_TRUE(h5.count(key)) << key;
      EXPECT_EQ(tensor.dtype(), torch::kFloat32);
      ASSERT_EQ(tensor.sizes(), h5[key].sizes()) << key;
      EXPECT_TRUE(torch::equal(tensor, h5[key])) << key << " differs bitwise";
    }
    // File order is the model's order: encoder, target_encoder, predictor.
    EXPECT_EQ(sd->front().first, "encoder.pos_embed");
    EXPECT_EQ(sd->back().first.rfind("predictor.", 0), 0u);
    // And they load strictly into the C++ modules.
    auto report = LoadStateDict(*predictor_, SelectPrefix(*sd, "predictor."), LoadMode::kStrict);
    EXPECT_TRUE(report.ok()) << report.status();
  }
  EXPECT_EQ(scalars.at("epoch"), 0);
}

}  // namespace
}  // namespace chexworld
