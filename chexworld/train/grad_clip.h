// The optimizer phase's helpers around the optimizer itself, on the device and
// as multi-tensor kernels (no per-tensor launches, no host reads).
#ifndef CHEXWORLD_TRAIN_GRAD_CLIP_H_
#define CHEXWORLD_TRAIN_GRAD_CLIP_H_

#include <vector>

#include <torch/torch.h>

namespace chexworld {

// torch.nn.utils.clip_grad_norm_ as the official code calls it, through its
// foreach path (torch's default on CUDA): one multi-tensor norm, the clip
// factor min(1, max_norm / (norm + 1e-6)) computed on the device, one
// multi-tensor scaling. Returns the total norm before clipping (a 0-dim device
// tensor); max_norm <= 0 only measures. Undefined when no gradient exists.
torch::Tensor ClipGradNorm(const std::vector<torch::Tensor>& params, double max_norm);

// As the official optimizer.zero_grad(set_to_none=True): the next backward
// writes each gradient instead of adding it to a zeroed buffer.
void ClearGradients(const std::vector<torch::Tensor>& params);

}  // namespace chexworld

#endif  // CHEXWORLD_TRAIN_GRAD_CLIP_H_
