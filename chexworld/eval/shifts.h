// Graded appearance shifts of test images (EvalData.shifts): how a fitted
// classifier degrades under exposure, gamma, contrast, blur and noise, the
// acquisition differences CheXWorld's domain term models. Applied at the
// model's input size, before normalisation, with the pretraining's own
// appearance operators (data/transforms/dual_view.h); noise is seeded per
// image. Torch-free.
#ifndef CHEXWORLD_EVAL_SHIFTS_H_
#define CHEXWORLD_EVAL_SHIFTS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "chexworld/data/image.h"
#include "chexworld/eval/evaluators.pb.h"

namespace chexworld {

struct ShiftLevel {
  std::string kind;  // exposure, gamma, contrast, blur, noise
  float strength = 0;
  std::string label() const;  // "blur 2"
};

// Every (kind, strength) of EvalData.shifts, defaults filled in; an unknown
// kind or a strength out of range fails naming shifts[i].
absl::StatusOr<std::vector<ShiftLevel>> ExpandShifts(const EvalData& data);

// The shifted copy of `image` (the index-th test image: seeds its noise).
GrayImage ApplyShift(const GrayImage& image, const ShiftLevel& level, uint64_t seed, int64_t index);

}  // namespace chexworld

#endif  // CHEXWORLD_EVAL_SHIFTS_H_
