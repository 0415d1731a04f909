// What the classification evaluators (linear probe, k-NN, fine-tuning,
// attentive probe) share: targets, the task loss, probabilities, the
// validation score, and the frame that loads the task once, fits each
// encoder, scores the test images and each appearance shift of them, and
// writes one report comparing the encoders.
#ifndef CHEXWORLD_EVAL_CLASSIFICATION_EVAL_H_
#define CHEXWORLD_EVAL_CLASSIFICATION_EVAL_H_

#include <functional>
#include <string>
#include <vector>

#include <glog/logging.h>
#include <torch/torch.h>

#include "absl/status/statusor.h"
#include "chexworld/core/status_macros.h"
#include "chexworld/eval/evaluator.h"
#include "chexworld/eval/shifts.h"

namespace chexworld {

// eval/<evaluator>[_<tag>]
std::string ReportName(const std::string& evaluator, const EvalData& d);
// Rows `idx` of t.
torch::Tensor Rows(const torch::Tensor& t, const std::vector<int64_t>& idx);
// (|idx|, C) float targets, NaN unknown.
torch::Tensor Targets(const TaskData& d, const std::vector<int64_t>& idx);
// Cross-entropy for multi-class, BCE over the known targets otherwise.
torch::Tensor TaskLoss(const torch::Tensor& logits, const torch::Tensor& y, bool multiclass);
// Softmax or sigmoid of (B, C) logits, row-major.
std::vector<double> Probabilities(const torch::Tensor& logits, bool multiclass);
// Validation score for model selection: mean AUROC, or accuracy if undefined.
double ValScore(const TaskData& d, const std::vector<double>& scores);
// The test images under `level` (seeded noise per test position).
ImageSelection ShiftedTest(const TaskData& data, const ShiftLevel& level, uint64_t seed);

// What an evaluator fits for one encoder source: the test split's scores
// (probabilities, test rows x classes) and a way to score other images (the
// shifted test images, EvalData.shifts).
struct Fitted {
  std::vector<double> test_scores;
  std::function<absl::StatusOr<std::vector<double>>(const ImageSelection&)> score;
};

// The frame of every classification evaluator. Options are any message with
// `data` and `encoders`; `fit(source, data)` returns a Fitted.
template <typename Options, typename FitFn>
absl::StatusOr<EvalReport> ScoreEachEncoder(const char* kind, const EvalContext& ctx, const Options& o, FitFn fit) {
  ASSIGN_OR_RETURN(std::vector<ShiftLevel> levels, ExpandShifts(o.data()));
  ASSIGN_OR_RETURN(int size, InputSize(ctx, o.data()));
  ASSIGN_OR_RETURN(TaskData data, LoadTaskData(o.data(), size));
  LOG(INFO) << kind << ": " << data.description;
  std::vector<std::string> names;
  std::vector<std::vector<double>> scores;
  std::vector<Fitted> fitted;
  for (const EncoderSource& src : SourcesOrPretrained(o.encoders())) {
    ASSIGN_OR_RETURN(Fitted f, fit(src, data));
    names.push_back(src.name());
    scores.push_back(f.test_scores);
    fitted.push_back(std::move(f));
  }
  ShiftScores shifted;
  shifted.levels = levels;
  shifted.scores.resize(fitted.size());
  for (const ShiftLevel& level : levels) {
    const ImageSelection selection = ShiftedTest(data, level, o.data().shift_seed());
    for (size_t e = 0; e < fitted.size(); ++e) {
      ASSIGN_OR_RETURN(std::vector<double> s, fitted[e].score(selection));
      shifted.scores[e].push_back(std::move(s));
    }
    LOG(INFO) << kind << ": scored shift " << level.label();
  }
  return Report(ReportName(kind, o.data()), ctx, data, names, scores, o.data().bootstrap(),
                levels.empty() ? nullptr : &shifted);
}

}  // namespace chexworld

#endif  // CHEXWORLD_EVAL_CLASSIFICATION_EVAL_H_
