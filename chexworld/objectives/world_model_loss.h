// The CheXWorld world-model loss (official iwm_dual_easy step, METHOD 1.2):
//
//   H1 = LN(T(V1))[pred1]          H2 = LN(T(V2))[pred2]          (no grad)
//   Z1 = E(A1, enc1)               Z2 = E(A2, enc2)
//   P11 = Pred(Z1, a1, enc1 -> pred1, rel 0)      local + domain
//   P22 = Pred(Z2, a2, enc2 -> pred2, rel 0)
//   P21 = Pred(Z1, a1, enc1 -> pred2, rel_21)     global + domain
//   P12 = Pred(Z2, a2, enc2 -> pred1, rel_12)
//   loss = [ (l11 + l22)/2 + w (l21 + l12)/2 ] / (1 + w)     (extra_mean)
//
// With `cross_view` off only the local terms run (loss = (l11 + l22)/2), and
// with a single view (ijepa) only P11. The predictor decides whether it uses
// actions and offsets (its ablation options).
#ifndef CHEXWORLD_OBJECTIVES_WORLD_MODEL_LOSS_H_
#define CHEXWORLD_OBJECTIVES_WORLD_MODEL_LOSS_H_

#include <array>

#include <torch/torch.h>

#include "chexworld/data/batch.h"
#include "chexworld/models/encoder.h"
#include "chexworld/models/predictor.h"

namespace chexworld {

struct WorldModelLossOptions {
  bool cross_view = true;         // the global (1->2, 2->1) terms
  double cross_view_weight = 1.0;  // w above (official extra_loss_weight)
  bool extra_mean = true;         // divide by (1 + w)
  bool keep_trace = false;        // fill `traces` (parity, analyses)
  // Run the two views' target passes, context passes and the paired predictor
  // passes (11 with 22, 21 with 12) each as one batch where their shapes agree
  // (always, with the loader's masks): the same result in half the operator
  // calls, with larger matrix products. False runs every pass on its own.
  bool stack_views = true;
};

struct WorldModelTerms {
  torch::Tensor loss;  // scalar, differentiable
  torch::Tensor loss_11, loss_22, loss_21, loss_12, loss_intra, loss_extra;
  torch::Tensor H1, H2, Z1, Z2, P11, P22, P21, P12;
  std::array<PredictorTrace, 4> traces;  // 11, 22, 21, 12
  torch::Tensor target1_norm, target2_norm;  // full target tokens before LN (trace only)
  // Collapse monitors: std over the predicted tokens of each sample (mean over
  // samples, channels and passes), for predictions and for targets. Collapsed
  // predictions are the same at every position: std -> 0. 0-dim float32
  // tensors on the batch's device, detached: reading them is the caller's
  // choice (a host synchronisation on CUDA).
  torch::Tensor pred_std, target_std;
  // The official logged statistic: the same with sqrt(var + 1e-4).
  torch::Tensor pred_var;
};

WorldModelTerms ComputeWorldModelLoss(Encoder& context_encoder, Encoder& target_encoder, Predictor& predictor,
                                      const WorldModelBatch& batch, const WorldModelLossOptions& options);

}  // namespace chexworld

#endif  // CHEXWORLD_OBJECTIVES_WORLD_MODEL_LOSS_H_
