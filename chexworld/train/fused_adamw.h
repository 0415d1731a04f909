// One AdamW step as one pass over each parameter (float32 CPU tensors): reads
// the parameter, its gradient and both moments once and writes them once,
// where libtorch 1.x's AdamW::step makes about eight passes and temporaries.
// Same formula and order as torch.optim.AdamW (foreach=False):
//   p *= 1 - lr * wd;  m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2
//   p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
// The state lives in the optimizer's own AdamWParamState (checkpoints, resume
// and export are unchanged). Parameters elsewhere (CUDA, other dtypes, amsgrad)
// take libtorch's step. Deterministic whatever the thread count.
#ifndef CHEXWORLD_TRAIN_FUSED_ADAMW_H_
#define CHEXWORLD_TRAIN_FUSED_ADAMW_H_

#include <torch/torch.h>

namespace chexworld {

void FusedAdamWStep(torch::optim::AdamW& optimizer);

}  // namespace chexworld

#endif  // CHEXWORLD_TRAIN_FUSED_ADAMW_H_
