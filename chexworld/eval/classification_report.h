// The written result of a classification evaluation, torch-free: for every
// encoder the mean AUROC / AUPRC / accuracy with 95% bootstrap intervals and
// the paired difference against the first encoder; per class the test
// positives and negatives (so an AUPRC can be read against its prevalence)
// and each encoder's AUROC and AUPRC; ROC curves, one panel per class; and,
// with shifted scores, the appearance-shift matrix (shift_report.h).
//
// Files, in `eval_dir`: <name>.json, <name>.md, <name>_roc.svg, every test
// prediction in <name>_scores.csv (test_scores.h) and, with shifts,
// <name>_shifts.svg.
#ifndef CHEXWORLD_EVAL_CLASSIFICATION_REPORT_H_
#define CHEXWORLD_EVAL_CLASSIFICATION_REPORT_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "chexworld/eval/shift_report.h"
#include "chexworld/eval/task_data.h"

namespace chexworld {

struct ClassificationReport {
  std::map<std::string, double> summary;  // "<encoder>/mean_auroc" -> value
  std::string markdown;
};

// `test_scores[e]` are encoder e's scores on data.test (rows x classes).
absl::StatusOr<ClassificationReport> WriteClassificationReport(
    const std::string& name, const std::string& eval_dir, const TaskData& data,
    const std::vector<std::string>& encoder_names, const std::vector<std::vector<double>>& test_scores,
    int bootstrap, const ShiftScores* shifts = nullptr);

// Per class of the test rows: labels equal to 1 and to 0 (unknown ones in
// neither).
struct ClassCounts {
  std::vector<int64_t> positives, negatives;
};
ClassCounts CountTestLabels(const TaskData& data);

// A class name for a table or a panel title: names longer than `max_chars`
// are abbreviated (figure.h) and added to `key` as "short: full".
std::string ShortClassName(const std::string& name, size_t max_chars, std::vector<std::string>* key);

}  // namespace chexworld

#endif  // CHEXWORLD_EVAL_CLASSIFICATION_REPORT_H_
