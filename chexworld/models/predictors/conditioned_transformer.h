// Predictor "conditioned_transformer": CheXWorld's action-conditioned
// transformer predictor (METHOD 1.4, 1.5, 3.2, 3.3).
//
//   x  = predictor_embed(Z) + predictor_pos_embed[context_idx]          (B, Ke, p)
//   t  = mask_token + RelativeSinCos2D(rel_pos)[target_idx]              (B, Kp, p)
//   t  = policy_net([t || a])      Linear(p+A,p) ReLU Linear(p,p) ReLU Linear(p,p)
//   y  = predictor_proj(predictor_norm(blocks([x || t]))[:, Ke:])        (B, Kp, D)
// The mask-token table is [row | column] while the context table is
// [column | row]: the official transposition, kept so official weights load.
#ifndef CHEXWORLD_MODELS_PREDICTORS_CONDITIONED_TRANSFORMER_H_
#define CHEXWORLD_MODELS_PREDICTORS_CONDITIONED_TRANSFORMER_H_

#include <torch/torch.h>

#include "absl/status/statusor.h"
#include "chexworld/models/layers/transformer.h"
#include "chexworld/models/predictor.h"
#include "chexworld/models/predictors/conditioned_transformer.pb.h"

namespace chexworld {

absl::StatusOr<ConditionedTransformerOptions> ResolveConditionedTransformerOptions(
    const ConditionedTransformerOptions& options, const PredictorContext& context);

class ConditionedTransformerImpl : public Predictor {
 public:
  ConditionedTransformerImpl(const ConditionedTransformerOptions& resolved, const PredictorContext& context);
  std::shared_ptr<Predictor> ClonePredictor() const override;

  torch::Tensor Forward(const PredictorInputs& in, PredictorTrace* trace = nullptr) override;
  int64_t embed_dim() const override { return options_.embed_dim(); }
  int64_t depth() const override { return options_.depth(); }
  int64_t action_dim() const override {
    return options_.disable_action() ? 0 : options_.action_dim();
  }
  bool uses_relative_offset() const override { return !options_.disable_relative_offset(); }
  const ConditionedTransformerOptions& options() const { return options_; }

  torch::nn::Linear predictor_embed{nullptr};
  torch::Tensor mask_token;
  torch::Tensor predictor_pos_embed;
  torch::nn::ModuleList predictor_blocks{nullptr};
  torch::nn::LayerNorm predictor_norm{nullptr};
  torch::nn::Linear predictor_proj{nullptr};
  torch::nn::Sequential policy_net{nullptr};  // null when disable_action

 private:
  void Build();
  ConditionedTransformerOptions options_;
  PredictorContext context_;
};

}  // namespace chexworld

#endif  // CHEXWORLD_MODELS_PREDICTORS_CONDITIONED_TRANSFORMER_H_
