// The split half of LoadTaskData (task_data.h): images grouped by patient,
// equal pixels and near-duplicates; seeded random or stored train / val /
// test; an external test set; the leakage guard; the label fraction or
// k-shot subset of train. Torch-free; internal to the task_data library.
#ifndef CHEXWORLD_EVAL_TASK_SPLITS_H_
#define CHEXWORLD_EVAL_TASK_SPLITS_H_

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "chexworld/eval/evaluators.pb.h"
#include "chexworld/eval/near_duplicates.h"
#include "chexworld/eval/task_data.h"

namespace chexworld {

// Per image of the task: rows 0 .. n1 - 1 from EvalData.dataset, the rest
// from EvalData.test_dataset.
struct SplitInputs {
  int64_t n1 = 0;
  std::string dataset_name;                 // for errors
  std::vector<std::string> patients;        // "" = unknown
  std::vector<uint32_t> crcs;               // of the stored pixels (first dataset's images)
  std::vector<std::string> stored_splits;   // first dataset's images
  std::vector<ImageSignature> signatures;
  std::set<int64_t> left_out;               // images of none of the selected classes
  std::string left_out_note;                // what the description says of them
};

// Fills t->train, val, test, patient_level, overlap and overlap_pairs
// (t->n, c, targets, ids and external_test set); appends what it left out to
// `notes`. `d` is resolved (eval_data.h).
absl::Status SplitTask(const EvalData& d, const SplitInputs& in, std::vector<std::string>* notes, TaskData* t);

}  // namespace chexworld

#endif  // CHEXWORLD_EVAL_TASK_SPLITS_H_
