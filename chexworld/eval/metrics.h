// Evaluation metrics with seeded bootstrap confidence intervals, torch-free.
//
// AUROC (ties get half credit, i.e. the Mann-Whitney statistic), AUPRC
// (average precision, step-wise), accuracy, and per-image Dice / IoU. Labels
// may be NaN (unknown): those samples are left out of that column. A column
// with only one class present has an undefined AUROC/AUPRC: NaN, and means
// over classes skip it (and say how many were used).
#ifndef CHEXWORLD_EVAL_METRICS_H_
#define CHEXWORLD_EVAL_METRICS_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace chexworld {

// Area under the ROC curve of `scores` for binary `labels` (0/1; NaN skipped).
double Auroc(const std::vector<double>& scores, const std::vector<double>& labels);
// Average precision (area under the precision-recall curve, step-wise).
double Auprc(const std::vector<double>& scores, const std::vector<double>& labels);
// ROC curve points (fpr, tpr), from (0,0) to (1,1).
std::vector<std::pair<double, double>> RocCurve(const std::vector<double>& scores, const std::vector<double>& labels);

// Dice and IoU of one binary mask pair; both empty -> 1 (the official rule).
double Dice(const std::vector<uint8_t>& pred, const std::vector<uint8_t>& truth);
double Iou(const std::vector<uint8_t>& pred, const std::vector<uint8_t>& truth);

struct Interval {
  double value = 0;  // on all samples
  double low = 0;    // 2.5th percentile of the bootstrap
  double high = 0;   // 97.5th percentile
  int valid_resamples = 0;
};

// A metric over a set of sample indices.
using SampleMetric = std::function<double(const std::vector<int64_t>& indices)>;

// Percentile bootstrap (resampling samples with replacement). Resamples where
// the metric is NaN (for example one class only) are dropped and counted.
Interval Bootstrap(int64_t num_samples, const SampleMetric& metric, int resamples = 1000, uint64_t seed = 0);

struct PairedComparison {
  double delta = 0;            // metric(A) - metric(B) on all samples
  Interval delta_interval;     // bootstrap interval of the difference
  double p_a_not_better = 0;   // fraction of resamples with delta <= 0 (one-sided)
};

// Paired bootstrap: both models scored on the same resampled indices.
PairedComparison PairedBootstrap(int64_t num_samples, const SampleMetric& a, const SampleMetric& b,
                                 int resamples = 1000, uint64_t seed = 0);

// Column-wise helpers over (N, C) row-major arrays.
struct ClassificationMetrics {
  std::vector<double> auroc, auprc;  // per class (NaN if undefined)
  double mean_auroc = 0, mean_auprc = 0;
  int classes_used = 0;              // classes with both outcomes present
  double accuracy = 0;               // multi-class: argmax; binary/multi-label: threshold 0.5
};

// `multiclass`: labels one-hot, accuracy by argmax; otherwise per-label
// thresholds at 0.5 (scores are probabilities).
ClassificationMetrics Classify(const std::vector<double>& scores, const std::vector<double>& labels, int64_t n,
                               int64_t c, bool multiclass, const std::vector<int64_t>* subset = nullptr);

}  // namespace chexworld

#endif  // CHEXWORLD_EVAL_METRICS_H_
