// The predictor interface and its registry ("predictor").
//
// A predictor reads context tokens of one view and predicts the target
// encoder's tokens at target positions, possibly in another crop (relative
// offset) and conditioned on the appearance action of the context view.
#ifndef CHEXWORLD_MODELS_PREDICTOR_H_
#define CHEXWORLD_MODELS_PREDICTOR_H_

#include <memory>

#include <torch/torch.h>

#include "chexworld/core/registry.h"

namespace chexworld {

inline constexpr char kPredictorKind[] = "predictor";

// What a predictor factory needs to know about the encoder it serves.
struct PredictorContext {
  int64_t encoder_dim = 0;    // D of the context/target tokens
  int64_t encoder_heads = 0;  // default predictor head count
  int64_t grid_h = 0;         // patch grid of the crops
  int64_t grid_w = 0;
};

struct PredictorInputs {
  torch::Tensor context;      // (B, Ke, D) context-encoder tokens
  torch::Tensor context_idx;  // (B, Ke) int64 patch indices; undefined = all N tokens
  torch::Tensor target_idx;   // (B, Kp) int64 patch indices in the target crop
  torch::Tensor action;       // (B, A) appearance action of the context view
  torch::Tensor rel_pos;      // (B, 4) [di, dj, flip, dflip]; undefined = same crop
};

// Intermediate tensors, filled on request (parity tests, analyses).
struct PredictorTrace {
  torch::Tensor relpos_embed;  // (B, N, p) mask-token position embeddings
  torch::Tensor policy_in;     // (B, Kp, p + A)
  torch::Tensor policy_out;    // (B, Kp, p)
  torch::Tensor blocks_in;     // (B, Ke + Kp, p)
};

// Implementations derive from Predictor alone, never also from
// torch::nn::Cloneable (see module_copy.h).
class Predictor : public torch::nn::Module {
 public:
  ~Predictor() override = default;
  // Returns (B, Kp, D).
  virtual torch::Tensor Forward(const PredictorInputs& in, PredictorTrace* trace = nullptr) = 0;
  // Token width and number of blocks (the FLOP count).
  virtual int64_t embed_dim() const = 0;
  virtual int64_t depth() const = 0;
  // Width of the action vector it is conditioned on; 0 = not conditioned.
  virtual int64_t action_dim() const = 0;
  // False when the relative offset is ignored (ablation).
  virtual bool uses_relative_offset() const = 0;

  // Deep copy sharing no storage, on the same device.
  virtual std::shared_ptr<Predictor> ClonePredictor() const = 0;
};

inline absl::StatusOr<std::shared_ptr<Predictor>> CreatePredictor(const ComponentSpec& spec,
                                                                  PredictorContext context) {
  return CreateComponent<Predictor>(kPredictorKind, spec, context);
}

}  // namespace chexworld

#endif  // CHEXWORLD_MODELS_PREDICTOR_H_
