// The FLOP model of one pretraining step (METHOD 9.1; 1 multiply-add = 2
// FLOPs; LayerNorm, softmax and GELU ignored). Torch-free.
#ifndef CHEXWORLD_TRAIN_FLOPS_H_
#define CHEXWORLD_TRAIN_FLOPS_H_

#include <cstdint>

namespace chexworld {

struct StepShape {
  int64_t tokens = 0;          // N patches of a view
  int64_t patch = 16, channels = 3;
  int64_t enc_dim = 0, enc_depth = 0;
  int64_t pred_dim = 0, pred_depth = 0, action_dim = 5;  // action_dim 0: no policy network
  int64_t context = 0;         // Ke kept tokens
  int64_t target = 0;          // Kp predicted tokens
  int target_passes = 2, context_passes = 2, predictor_passes = 4;
};

// One transformer block on n tokens at width d: 24 n d^2 + 4 n^2 d.
double BlockFlops(int64_t n, int64_t d);
double TargetEncoderFlops(const StepShape& s);   // F_T
double ContextEncoderFlops(const StepShape& s);  // F_C
double PredictorFlops(const StepShape& s);       // F_P
// Per image: target passes forward only, context and predictor passes
// forward + backward (3x forward). METHOD's iwm_dual_easy: 2 F_T + 3 (2 F_C + 4 F_P).
double StepFlopsPerImage(const StepShape& s);

}  // namespace chexworld

#endif  // CHEXWORLD_TRAIN_FLOPS_H_
