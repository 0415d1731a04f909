// Registered objectives: "chexworld" and "ijepa".
#include <mutex>

#include "chexworld/data/transforms/dual_view.h"
#include "chexworld/objectives/objective.h"
#include "chexworld/objectives/objectives.pb.h"
#include "chexworld/objectives/world_model_loss.h"

namespace chexworld {
namespace {

ObjectiveOutput FromTerms(const WorldModelTerms& t) {
  ObjectiveOutput out;
  out.loss = t.loss;
  auto put = [&](const char* name, const torch::Tensor& v) {
    if (v.defined()) out.terms[name] = v.detach().to(torch::kFloat32);
  };
  put("loss_11", t.loss_11);
  put("loss_22", t.loss_22);
  put("loss_21", t.loss_21);
  put("loss_12", t.loss_12);
  out.pred_std = t.pred_std;
  out.target_std = t.target_std;
  return out;
}

class ChexWorldObjective : public Objective {
 public:
  explicit ChexWorldObjective(const ChexWorldObjectiveOptions& o) {
    options_.cross_view = !o.disable_cross_view();
    options_.cross_view_weight = o.cross_view_weight() == 0 ? 1.0 : o.cross_view_weight();
    options_.extra_mean = !o.no_extra_mean();
  }
  bool needs_two_views() const override { return true; }
  Passes passes() const override { return {2, 2, options_.cross_view ? 4 : 2}; }
  ObjectiveOutput Compute(Encoder& ctx, Encoder& target, Predictor& pred, const WorldModelBatch& b) override {
    return FromTerms(ComputeWorldModelLoss(ctx, target, pred, b, options_));
  }

 private:
  WorldModelLossOptions options_;
};

class IjepaObjective : public Objective {
 public:
  explicit IjepaObjective(const IjepaObjectiveOptions& o) : o_(o) {}
  bool needs_two_views() const override { return false; }
  Passes passes() const override { return {1, 1, 1}; }
  bool conditions_on_actions() const override { return o_.augmented_context(); }
  ObjectiveOutput Compute(Encoder& ctx, Encoder& target, Predictor& pred, const WorldModelBatch& b) override {
    WorldModelBatch one;
    one.image1 = b.image1;
    one.image_aug1 = o_.augmented_context() ? b.image_aug1 : b.image1;
    one.action1 = o_.augmented_context() ? b.action1 : IdentityAction(b.image1.device()).expand({b.size(), kActionDim});
    one.masks_enc1 = b.masks_enc1;
    one.masks_pred1 = b.masks_pred1;
    return FromTerms(ComputeWorldModelLoss(ctx, target, pred, one, WorldModelLossOptions()));
  }

 private:
  // (1, A) on `device`, made once: no host tensor or copy in the step.
  // Concurrent shards call Compute at once, hence the lock.
  torch::Tensor IdentityAction(const torch::Device& device) {
    std::lock_guard<std::mutex> lock(mu_);
    if (!identity_.defined() || identity_.device() != device) {
      identity_ = torch::tensor(std::vector<float>(kIdentityAction.begin(), kIdentityAction.end()))
                      .to(device)
                      .unsqueeze(0);
    }
    return identity_;
  }

  IjepaObjectiveOptions o_;
  std::mutex mu_;
  torch::Tensor identity_;
};

absl::Status ValidateChexWorld(const ChexWorldObjectiveOptions& o) {
  if (o.cross_view_weight() < 0) return absl::InvalidArgumentError("ChexWorldObjectiveOptions.cross_view_weight must be >= 0");
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<Objective>> CreateChexWorld(const ChexWorldObjectiveOptions& o) {
  return std::shared_ptr<Objective>(std::make_shared<ChexWorldObjective>(o));
}

absl::StatusOr<std::shared_ptr<Objective>> CreateIjepa(const IjepaObjectiveOptions& o) {
  return std::shared_ptr<Objective>(std::make_shared<IjepaObjective>(o));
}

}  // namespace

CHEXWORLD_REGISTER_COMPONENT("objective", "chexworld", ChexWorldObjectiveOptions, Objective,
                             "CheXWorld world model: local + global (cross-view offset) + domain (action) terms",
                             &CreateChexWorld, &ValidateChexWorld);
CHEXWORLD_REGISTER_COMPONENT("objective", "ijepa", IjepaObjectiveOptions, Objective,
                             "I-JEPA baseline: masked latent prediction inside one clean view", &CreateIjepa,
                             nullptr);

}  // namespace chexworld
