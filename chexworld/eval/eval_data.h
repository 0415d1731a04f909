// EvalData's defaults and rules, shared by every evaluator. Torch-free.
#ifndef CHEXWORLD_EVAL_EVAL_DATA_H_
#define CHEXWORLD_EVAL_EVAL_DATA_H_

#include "absl/status/status.h"
#include "chexworld/eval/evaluators.pb.h"

namespace chexworld {

// Writes the defaults an evaluation uses into unset fields (task "auto",
// split "random", 60/20/20 fractions, label fraction 1, "imagenet"
// normalisation, 1,000 bootstrap resamples, near-duplicate distance 8, 4
// loader workers, float32 features cached in the run folder), so a resolved
// config shows the values that ran, then checks every field. Errors name it.
absl::Status ResolveEvalData(EvalData* data);

// A float field as the decimal number written in the config (0.6f -> 0.6,
// not 0.6000000238), so fractions split exactly as written.
double DecimalValue(float value);

}  // namespace chexworld

#endif  // CHEXWORLD_EVAL_EVAL_DATA_H_
