// Adapting encoder weights to another geometry, as the official fine-tuning
// does: bicubic resize of pos_embed to the model's grid, bicubic resize of the
// patch kernel to its patch size (no magnitude correction), and a change of
// input channels (3 -> 1 sums the RGB kernels, the exact equivalent for gray
// images replicated to RGB; 1 -> C replicates and divides by C).
#ifndef CHEXWORLD_MODELS_CHECKPOINT_ADAPT_H_
#define CHEXWORLD_MODELS_CHECKPOINT_ADAPT_H_

#include "absl/status/statusor.h"
#include "chexworld/models/checkpoint/torch_pickle.h"
#include "chexworld/models/encoder.h"

namespace chexworld {

// Returns `weights` (an encoder state dict without prefix) reshaped for
// `encoder`; entries other than pos_embed and patch_embed.proj.weight are
// passed through. Fails when pos_embed is not a square grid.
absl::StatusOr<NamedTensors> AdaptEncoderWeights(const NamedTensors& weights, const Encoder& encoder);

}  // namespace chexworld

#endif  // CHEXWORLD_MODELS_CHECKPOINT_ADAPT_H_
