#include "chexworld/eval/classification_eval.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "chexworld/eval/metrics.h"

namespace chexworld {

std::string ReportName(const std::string& evaluator, const EvalData& d) {
  return d.tag().empty() ? evaluator : evaluator + "_" + d.tag();
}

torch::Tensor Rows(const torch::Tensor& t, const std::vector<int64_t>& idx) {
  return t.index_select(0, torch::tensor(idx, torch::kInt64));
}

torch::Tensor Targets(const TaskData& d, const std::vector<int64_t>& idx) {
  std::vector<float> v;
  v.reserve(idx.size() * d.c);
  for (int64_t i : idx)
    for (int64_t k = 0; k < d.c; ++k) v.push_back(static_cast<float>(d.targets[i * d.c + k]));
  return torch::tensor(v).reshape({static_cast<int64_t>(idx.size()), d.c});
}

torch::Tensor TaskLoss(const torch::Tensor& logits, const torch::Tensor& y, bool multiclass) {
  if (multiclass) return torch::nn::functional::cross_entropy(logits, y.argmax(1));
  auto known = ~torch::isnan(y);
  auto yy = torch::where(known, y, torch::zeros_like(y));
  auto l = torch::binary_cross_entropy_with_logits(logits, yy, {}, {}, at::Reduction::None);
  return (l * known).sum() / known.sum().clamp_min(1);
}

std::vector<double> Probabilities(const torch::Tensor& logits, bool multiclass) {
  auto p = (multiclass ? logits.softmax(1) : logits.sigmoid()).to(torch::kFloat64).contiguous();
  return std::vector<double>(p.data_ptr<double>(), p.data_ptr<double>() + p.numel());
}

double ValScore(const TaskData& d, const std::vector<double>& scores) {
  std::vector<double> labels;
  for (int64_t i : d.val)
    for (int64_t k = 0; k < d.c; ++k) labels.push_back(d.targets[i * d.c + k]);
  ClassificationMetrics m = Classify(scores, labels, static_cast<int64_t>(d.val.size()), d.c, d.multiclass);
  return std::isnan(m.mean_auroc) ? m.accuracy : m.mean_auroc;
}

ImageSelection ShiftedTest(const TaskData& data, const ShiftLevel& level, uint64_t seed) {
  ImageSelection s;
  s.rows = data.test;
  s.alter = [level, seed](int64_t k, GrayImage* image) { *image = ApplyShift(*image, level, seed, k); };
  s.key = absl::StrCat("shift ", level.label(), " seed ", seed);
  return s;
}

}  // namespace chexworld
