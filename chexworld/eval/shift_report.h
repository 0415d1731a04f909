// The appearance-shift matrix of a classification evaluation: per encoder x
// shift x strength, mean AUROC with its 95% bootstrap interval and the paired
// difference against the first encoder, as markdown, JSON and an SVG figure
// of AUROC against strength (one panel per shift kind). Torch-free.
#ifndef CHEXWORLD_EVAL_SHIFT_REPORT_H_
#define CHEXWORLD_EVAL_SHIFT_REPORT_H_

#include <map>
#include <string>
#include <vector>

#include "chexworld/eval/shifts.h"
#include "chexworld/eval/task_data.h"

namespace chexworld {

struct ShiftScores {
  std::vector<ShiftLevel> levels;
  // [encoder][level] -> test scores (test rows x classes), as the unshifted ones.
  std::vector<std::vector<std::vector<double>>> scores;
};

struct ShiftMatrix {
  std::string markdown;
  std::string json;                        // a JSON array (the "shifts" member of the report)
  std::string svg;                         // the figure (figure.h)
  std::map<std::string, double> summary;   // "<encoder>/auroc_<kind>_<strength>"
};

// `unshifted` are the test scores without shift ([encoder]).
ShiftMatrix MakeShiftMatrix(const TaskData& data, const std::vector<std::string>& encoder_names,
                            const std::vector<std::vector<double>>& unshifted, const ShiftScores& shifted,
                            int resamples);

}  // namespace chexworld

#endif  // CHEXWORLD_EVAL_SHIFT_REPORT_H_
