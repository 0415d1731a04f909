// Every test prediction of a classification evaluation, kept beside its
// report as eval/<name>_scores.csv so that results can be pooled afterwards
// (across pretraining seeds, seed_aggregate.h) without re-running anything.
//
// Format: a first line "# chexworld test scores v1, multiclass=0|1", then a
// CSV header `test_id,label:<class>,...,<encoder>|<condition>|<class>,...`
// and one row per test image. <condition> is "none" (the unshifted test set)
// or a shift label ("contrast 0.4"). Torch-free.
#ifndef CHEXWORLD_EVAL_TEST_SCORES_H_
#define CHEXWORLD_EVAL_TEST_SCORES_H_

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace chexworld {

struct TestScores {
  std::vector<std::string> ids;
  std::vector<std::string> class_names;
  std::vector<double> labels;  // rows x classes, NaN unknown
  bool multiclass = false;
  std::vector<std::string> conditions;  // "none" first, then shift labels, in file order
  // (encoder, condition) -> rows x classes
  std::map<std::pair<std::string, std::string>, std::vector<double>> scores;
  std::vector<std::string> encoders;  // in file order
  int64_t rows() const { return static_cast<int64_t>(ids.size()); }
  int64_t classes() const { return static_cast<int64_t>(class_names.size()); }
};

std::string TestScoresToCsv(const TestScores& scores);
// Errors name the file and the line.
absl::StatusOr<TestScores> ReadTestScores(const std::string& path);

}  // namespace chexworld

#endif  // CHEXWORLD_EVAL_TEST_SCORES_H_
