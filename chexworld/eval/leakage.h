// The leakage guard of an evaluation's stored or external test set: test
// images whose patient, pixels (equal CRC) or near-duplicate signature
// (near_duplicates.h) is also in train/val. Torch-free.
#ifndef CHEXWORLD_EVAL_LEAKAGE_H_
#define CHEXWORLD_EVAL_LEAKAGE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "chexworld/eval/evaluators.pb.h"
#include "chexworld/eval/near_duplicates.h"
#include "chexworld/eval/task_data.h"

namespace chexworld {

// Checks t->test against `train` and t->val; per image: `patients` ("" =
// unknown), `pixel_keys` (equal keys = equal pixels; "" = not compared) and
// `signatures`. Fills t->overlap (a summary, "" when clean) and
// t->overlap_pairs (every pair, with its distance). On overlap: FailedPrecondition
// naming them, unless d.drop_overlap() (the test images are removed) or
// d.allow_overlap() (kept). InvalidArgument when no test image is left.
absl::Status GuardLeakage(const EvalData& d, const std::vector<int64_t>& train, const std::vector<std::string>& patients,
                          const std::vector<std::string>& pixel_keys, const std::vector<ImageSignature>& signatures,
                          int max_distance, TaskData* t);

}  // namespace chexworld

#endif  // CHEXWORLD_EVAL_LEAKAGE_H_
