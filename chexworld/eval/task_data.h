// The labelled data of an evaluation: where its images are (pixels stay in
// the shards until a pass reads them, task_images.h), the targets over the
// task's classes, and the train / val / test split. What it holds per image
// is small (id, targets, split), so it does not grow with image size.
//
// Splits: "random" (seeded fractions; images of one patient, and duplicate
// images, always land in the same split) or "stored" (the dataset's own, as
// packed); the test images may come from another dataset (test_dataset),
// whose classes are matched to training's by name. In the "canonical" label
// space every dataset's labels are mapped to the canonical pathologies first
// (chexworld/data/label_space.h), and the classes are those both sides know.
//
// Leakage guard: for stored and external test sets, patients and images
// (equal stored pixels, or near-duplicates by gradient signature, see
// near_duplicates.h) found in both train/val and test fail the load naming
// each pair, unless allow_overlap (kept, reported) or drop_overlap (those
// test images left out, reported).
#ifndef CHEXWORLD_EVAL_TASK_DATA_H_
#define CHEXWORLD_EVAL_TASK_DATA_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "chexworld/eval/task_images.h"
#include "chexworld/eval/evaluators.pb.h"

namespace chexworld {

struct TaskData {
  std::shared_ptr<const TaskImages> images;  // row i's pixels (and masks), on demand
  int image_size = 0;                        // the model's input side
  int num_workers = 4;                       // loader threads of the passes over images (EvalData.num_workers)
  std::vector<std::string> mask_names;       // segmentation: the masks images->Read gives, in order
  std::vector<double> targets;  // N * C, NaN unknown (empty when the task has no labels)
  int64_t n = 0, c = 0;
  bool multiclass = false;
  std::vector<std::string> class_names;
  std::vector<int64_t> train, val, test;
  std::vector<std::string> ids;  // per image, "<dataset>:<id>" for reports
  bool patient_level = false;    // splits keep each patient's images together
  bool external_test = false;    // test images come from test_dataset
  std::string overlap;           // what the leakage guard found ("" = nothing)
  std::vector<std::string> overlap_pairs;  // every duplicate pair it found, with its distance
  std::string description;       // for reports
};

// One streamed pass over the datasets reads ids, labels, splits and the
// near-duplicate signatures (pixels are dropped unless EvalData.preload).
// `with_masks`: segmentation (masks required; labels optional). Errors name
// the EvalData field.
absl::StatusOr<TaskData> LoadTaskData(const EvalData& data, int image_size, bool with_masks = false);


}  // namespace chexworld

#endif  // CHEXWORLD_EVAL_TASK_DATA_H_
