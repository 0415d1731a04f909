// The labelled data of an evaluation: images at the model's input size, the
// targets over the task's classes, and the train / val / test split.
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
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "chexworld/data/image.h"
#include "chexworld/eval/evaluators.pb.h"

namespace chexworld {

struct TaskData {
  std::vector<GrayImage> images;
  std::vector<std::vector<uint8_t>> masks;  // per image, M * S * S (segmentation)
  std::vector<std::string> mask_names;
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

// `with_masks`: segmentation (masks required; labels optional). Errors name the
// EvalData field.
absl::StatusOr<TaskData> LoadTaskData(const EvalData& data, int image_size, bool with_masks = false);


}  // namespace chexworld

#endif  // CHEXWORLD_EVAL_TASK_DATA_H_
