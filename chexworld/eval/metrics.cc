#include "chexworld/eval/metrics.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

namespace chexworld {
namespace {

const double kNaN = std::nan("");

// Non-NaN (score, label) pairs sorted by decreasing score.
std::vector<std::pair<double, double>> Pairs(const std::vector<double>& s, const std::vector<double>& l) {
  std::vector<std::pair<double, double>> p;
  for (size_t i = 0; i < s.size() && i < l.size(); ++i) {
    if (!std::isnan(l[i]) && !std::isnan(s[i])) p.emplace_back(s[i], l[i] > 0.5 ? 1.0 : 0.0);
  }
  std::sort(p.begin(), p.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  return p;
}

double Percentile(std::vector<double> v, double q) {
  if (v.empty()) return kNaN;
  std::sort(v.begin(), v.end());
  const double pos = q * (v.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(pos)), hi = static_cast<size_t>(std::ceil(pos));
  return v[lo] + (v[hi] - v[lo]) * (pos - lo);
}

}  // namespace

double Auroc(const std::vector<double>& scores, const std::vector<double>& labels) {
  auto p = Pairs(scores, labels);
  double pos = 0, neg = 0;
  for (const auto& x : p) (x.second > 0.5 ? pos : neg) += 1;
  if (pos == 0 || neg == 0) return kNaN;
  // Mann-Whitney U with average ranks for ties (ascending order).
  std::reverse(p.begin(), p.end());
  double rank_sum = 0;
  size_t i = 0;
  while (i < p.size()) {
    size_t j = i;
    while (j + 1 < p.size() && p[j + 1].first == p[i].first) ++j;
    const double avg_rank = (i + j) / 2.0 + 1;
    for (size_t k = i; k <= j; ++k) {
      if (p[k].second > 0.5) rank_sum += avg_rank;
    }
    i = j + 1;
  }
  return (rank_sum - pos * (pos + 1) / 2) / (pos * neg);
}

double Auprc(const std::vector<double>& scores, const std::vector<double>& labels) {
  auto p = Pairs(scores, labels);
  double pos = 0;
  for (const auto& x : p) pos += x.second;
  if (pos == 0 || pos == p.size()) return kNaN;
  // Average precision over distinct thresholds (sklearn's definition).
  double tp = 0, fp = 0, ap = 0, prev_recall = 0;
  size_t i = 0;
  while (i < p.size()) {
    size_t j = i;
    while (j < p.size() && p[j].first == p[i].first) {
      (p[j].second > 0.5 ? tp : fp) += 1;
      ++j;
    }
    const double recall = tp / pos, precision = tp / (tp + fp);
    ap += (recall - prev_recall) * precision;
    prev_recall = recall;
    i = j;
  }
  return ap;
}

std::vector<std::pair<double, double>> RocCurve(const std::vector<double>& scores, const std::vector<double>& labels) {
  auto p = Pairs(scores, labels);
  double pos = 0, neg = 0;
  for (const auto& x : p) (x.second > 0.5 ? pos : neg) += 1;
  std::vector<std::pair<double, double>> out = {{0, 0}};
  if (pos == 0 || neg == 0) return out;
  double tp = 0, fp = 0;
  size_t i = 0;
  while (i < p.size()) {
    size_t j = i;
    while (j < p.size() && p[j].first == p[i].first) {
      (p[j].second > 0.5 ? tp : fp) += 1;
      ++j;
    }
    out.emplace_back(fp / neg, tp / pos);
    i = j;
  }
  return out;
}

double Dice(const std::vector<uint8_t>& pred, const std::vector<uint8_t>& truth) {
  double inter = 0, a = 0, b = 0;
  for (size_t i = 0; i < pred.size() && i < truth.size(); ++i) {
    inter += pred[i] && truth[i];
    a += pred[i] != 0;
    b += truth[i] != 0;
  }
  if (a + b == 0) return 1.0;
  return 2 * inter / (a + b);
}

double Iou(const std::vector<uint8_t>& pred, const std::vector<uint8_t>& truth) {
  double inter = 0, uni = 0;
  for (size_t i = 0; i < pred.size() && i < truth.size(); ++i) {
    inter += pred[i] && truth[i];
    uni += pred[i] || truth[i];
  }
  if (uni == 0) return 1.0;
  return inter / uni;
}

Interval Bootstrap(int64_t n, const SampleMetric& metric, int resamples, uint64_t seed) {
  Interval out;
  std::vector<int64_t> all(n);
  std::iota(all.begin(), all.end(), 0);
  out.value = metric(all);
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int64_t> pick(0, std::max<int64_t>(0, n - 1));
  std::vector<double> values;
  std::vector<int64_t> idx(n);
  for (int r = 0; r < resamples && n > 0; ++r) {
    for (auto& i : idx) i = pick(rng);
    const double v = metric(idx);
    if (!std::isnan(v)) values.push_back(v);
  }
  out.valid_resamples = static_cast<int>(values.size());
  out.low = Percentile(values, 0.025);
  out.high = Percentile(values, 0.975);
  return out;
}

PairedComparison PairedBootstrap(int64_t n, const SampleMetric& a, const SampleMetric& b, int resamples,
                                 uint64_t seed) {
  PairedComparison out;
  out.delta_interval = Bootstrap(n, [&](const std::vector<int64_t>& idx) { return a(idx) - b(idx); }, resamples, seed);
  out.delta = out.delta_interval.value;
  // One-sided: how often A is not better on a resample (same resamples as above).
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int64_t> pick(0, std::max<int64_t>(0, n - 1));
  std::vector<int64_t> idx(n);
  int not_better = 0, valid = 0;
  for (int r = 0; r < resamples && n > 0; ++r) {
    for (auto& i : idx) i = pick(rng);
    const double d = a(idx) - b(idx);
    if (std::isnan(d)) continue;
    ++valid;
    not_better += d <= 0;
  }
  out.p_a_not_better = valid ? static_cast<double>(not_better) / valid : kNaN;
  return out;
}

ClassificationMetrics Classify(const std::vector<double>& scores, const std::vector<double>& labels, int64_t n,
                               int64_t c, bool multiclass, const std::vector<int64_t>* subset) {
  std::vector<int64_t> rows;
  if (subset) rows = *subset;
  else {
    rows.resize(n);
    std::iota(rows.begin(), rows.end(), 0);
  }
  ClassificationMetrics m;
  double sum_auroc = 0, sum_auprc = 0;
  for (int64_t k = 0; k < c; ++k) {
    std::vector<double> s, l;
    for (int64_t r : rows) {
      s.push_back(scores[r * c + k]);
      l.push_back(labels[r * c + k]);
    }
    m.auroc.push_back(Auroc(s, l));
    m.auprc.push_back(Auprc(s, l));
    if (!std::isnan(m.auroc.back())) {
      sum_auroc += m.auroc.back();
      sum_auprc += m.auprc.back();
      ++m.classes_used;
    }
  }
  m.mean_auroc = m.classes_used ? sum_auroc / m.classes_used : kNaN;
  m.mean_auprc = m.classes_used ? sum_auprc / m.classes_used : kNaN;
  double correct = 0, total = 0;
  for (int64_t r : rows) {
    if (multiclass) {
      int64_t best = 0, truth = -1;
      for (int64_t k = 0; k < c; ++k) {
        if (scores[r * c + k] > scores[r * c + best]) best = k;
        if (labels[r * c + k] > 0.5) truth = k;
      }
      if (truth < 0) continue;
      correct += best == truth;
      total += 1;
    } else {
      for (int64_t k = 0; k < c; ++k) {
        const double y = labels[r * c + k];
        if (std::isnan(y)) continue;
        correct += (scores[r * c + k] >= 0.5) == (y > 0.5);
        total += 1;
      }
    }
  }
  m.accuracy = total ? correct / total : kNaN;
  return m;
}

}  // namespace chexworld
