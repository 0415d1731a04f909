#include "chexworld/train/flops.h"

namespace chexworld {

double BlockFlops(int64_t n, int64_t d) {
  const double N = static_cast<double>(n), D = static_cast<double>(d);
  return 24.0 * N * D * D + 4.0 * N * N * D;
}

namespace {
double PatchEmbedFlops(const StepShape& s) {
  return 2.0 * s.tokens * static_cast<double>(s.channels * s.patch * s.patch) * s.enc_dim;
}
}  // namespace

double TargetEncoderFlops(const StepShape& s) { return PatchEmbedFlops(s) + s.enc_depth * BlockFlops(s.tokens, s.enc_dim); }

double ContextEncoderFlops(const StepShape& s) {
  return PatchEmbedFlops(s) + s.enc_depth * BlockFlops(s.context, s.enc_dim);
}

double PredictorFlops(const StepShape& s) {
  const double ke = s.context, kp = s.target, d = s.enc_dim, p = s.pred_dim;
  double f = 2.0 * ke * d * p + 2.0 * kp * p * d + s.pred_depth * BlockFlops(s.context + s.target, s.pred_dim);
  if (s.action_dim > 0) f += 2.0 * kp * (p + s.action_dim) * p + 4.0 * kp * p * p;
  return f;
}

double StepFlopsPerImage(const StepShape& s) {
  return s.target_passes * TargetEncoderFlops(s) +
         3.0 * (s.context_passes * ContextEncoderFlops(s) + s.predictor_passes * PredictorFlops(s));
}

}  // namespace chexworld
