// The EMA target encoder (METHOD 1.6) and the regression targets.
#ifndef CHEXWORLD_MODELS_EMA_H_
#define CHEXWORLD_MODELS_EMA_H_

#include <memory>

#include <torch/torch.h>

#include "chexworld/models/encoder.h"

namespace chexworld {

// A deep copy of `online` that shares no storage and needs no gradients.
std::shared_ptr<Encoder> MakeTargetEncoder(const Encoder& online);

// target <- m * target + (1 - m) * online over every parameter (including the
// fixed pos_embed, as the official update), matched by name.
void EmaUpdate(torch::nn::Module& target, const torch::nn::Module& online, double momentum);

// layer_norm over the last dim without affine parameters, eps 1e-5: the
// official target normalisation of the last layer ("avg_ln", last_k = 1).
torch::Tensor TargetLayerNorm(const torch::Tensor& features);

}  // namespace chexworld

#endif  // CHEXWORLD_MODELS_EMA_H_
