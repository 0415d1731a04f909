// The objective interface and its registry ("objective"): one training step's
// loss over a collated batch, given the context encoder, the EMA target
// encoder and the predictor. Objectives also say what data they need.
#ifndef CHEXWORLD_OBJECTIVES_OBJECTIVE_H_
#define CHEXWORLD_OBJECTIVES_OBJECTIVE_H_

#include <map>
#include <string>

#include <torch/torch.h>

#include "chexworld/core/registry.h"
#include "chexworld/data/batch.h"
#include "chexworld/models/encoder.h"
#include "chexworld/models/predictor.h"

namespace chexworld {

inline constexpr char kObjectiveKind[] = "objective";

// Everything but `loss` is for logging: 0-dim float32 tensors on the batch's
// device, detached. Nothing here has been read on the host, so a training
// step that does not log never waits for the device.
struct ObjectiveOutput {
  torch::Tensor loss;                          // scalar, differentiable
  std::map<std::string, torch::Tensor> terms;  // named loss terms (loss_11, ...)
  torch::Tensor pred_std;                      // collapse monitors (see WorldModelTerms)
  torch::Tensor target_std;
};

class Objective {
 public:
  virtual ~Objective() = default;
  // Whether batches need the second view (and offsets).
  virtual bool needs_two_views() const = 0;
  // Whether the predictor's action input carries information (false: it is
  // always the identity action, and an action network would only add
  // parameters; the experiment check then asks for disable_action).
  virtual bool conditions_on_actions() const { return true; }
  // Network passes per image in one Compute (the FLOP count, METHOD 9.1).
  struct Passes {
    int target = 0, context = 0, predictor = 0;
  };
  virtual Passes passes() const = 0;
  virtual ObjectiveOutput Compute(Encoder& context_encoder, Encoder& target_encoder, Predictor& predictor,
                                  const WorldModelBatch& batch) = 0;
};

inline absl::StatusOr<std::shared_ptr<Objective>> CreateObjective(const ComponentSpec& spec) {
  return CreateComponent<Objective>(kObjectiveKind, spec);
}

}  // namespace chexworld

#endif  // CHEXWORLD_OBJECTIVES_OBJECTIVE_H_
