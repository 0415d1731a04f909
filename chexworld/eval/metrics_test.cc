// Metrics against hand-computed values.
#include "chexworld/eval/metrics.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>

namespace chexworld {
namespace {

const double kNaN = std::nan("");

TEST(MetricsTest, AurocWithTies) {
  // Positives {0.8, 0.5}, negatives {0.5, 0.2}: pairs (0.8>0.5), (0.8>0.2), (0.5=0.5 half), (0.5>0.2) -> 3.5/4.
  EXPECT_DOUBLE_EQ(Auroc({0.8, 0.5, 0.5, 0.2}, {1, 1, 0, 0}), 0.875);
  EXPECT_DOUBLE_EQ(Auroc({0.1, 0.2, 0.3}, {1, 0, 0}), 0.0);
  EXPECT_DOUBLE_EQ(Auroc({0.5, 0.5, 0.5, 0.5}, {1, 0, 1, 0}), 0.5);
}

TEST(MetricsTest, NanLabelsAreSkippedAndOneClassIsUndefined) {
  EXPECT_DOUBLE_EQ(Auroc({0.9, 0.1, 0.7}, {1, 0, kNaN}), 1.0);
  EXPECT_TRUE(std::isnan(Auroc({0.9, 0.1}, {1, 1})));
  EXPECT_TRUE(std::isnan(Auprc({0.9, 0.1}, {0, 0})));
  // Column 1 has only positives (and a NaN): skipped in the mean.
  ClassificationMetrics m = Classify({0.9, 0.8, 0.2, 0.7, 0.6, 0.1}, {1, 1, 0, kNaN, 0, 1}, 3, 2, false);
  EXPECT_DOUBLE_EQ(m.auroc[0], 1.0);
  EXPECT_TRUE(std::isnan(m.auroc[1]));
  EXPECT_EQ(m.classes_used, 1);
  EXPECT_DOUBLE_EQ(m.mean_auroc, 1.0);
  // Accuracy over the 5 known labels at threshold 0.5: (0.9,1) (0.8,1) (0.2,0) (0.6,0)x (0.1,1)x -> 3/5.
  EXPECT_DOUBLE_EQ(m.accuracy, 0.6);
}

TEST(MetricsTest, AveragePrecision) {
  // Ranked: 1 (P=1), 0, 1 (P=2/3): AP = 0.5*1 + 0.5*2/3.
  EXPECT_NEAR(Auprc({0.9, 0.8, 0.7}, {1, 0, 1}), 0.5 + 1.0 / 3, 1e-12);
}

TEST(MetricsTest, MulticlassAccuracy) {
  ClassificationMetrics m = Classify({0.7, 0.2, 0.1, 0.1, 0.3, 0.6}, {1, 0, 0, 0, 1, 0}, 2, 3, true);
  EXPECT_DOUBLE_EQ(m.accuracy, 0.5);
}

TEST(MetricsTest, DiceAndIouIncludingEmptyMasks) {
  EXPECT_DOUBLE_EQ(Dice({1, 1, 0, 0}, {1, 0, 1, 0}), 0.5);
  EXPECT_DOUBLE_EQ(Iou({1, 1, 0, 0}, {1, 0, 1, 0}), 1.0 / 3);
  EXPECT_DOUBLE_EQ(Dice({0, 0}, {0, 0}), 1.0);
  EXPECT_DOUBLE_EQ(Iou({0, 0}, {0, 0}), 1.0);
  EXPECT_DOUBLE_EQ(Dice({1, 0}, {0, 0}), 0.0);
}

TEST(MetricsTest, BootstrapIsSeededAndBracketsTheValue) {
  std::vector<double> s, l;
  for (int i = 0; i < 200; ++i) {
    s.push_back(i % 2 ? 0.6 + 0.001 * i : 0.4 + 0.0012 * i);
    l.push_back(i % 2);
  }
  auto metric = [&](const std::vector<int64_t>& idx) {
    std::vector<double> a, b;
    for (auto i : idx) a.push_back(s[i]), b.push_back(l[i]);
    return Auroc(a, b);
  };
  Interval x = Bootstrap(200, metric, 1000, 3), y = Bootstrap(200, metric, 1000, 3);
  EXPECT_EQ(x.low, y.low);
  EXPECT_LE(x.low, x.value);
  EXPECT_GE(x.high, x.value);
  EXPECT_EQ(x.valid_resamples, 1000);
  // A model compared with itself is never better.
  PairedComparison p = PairedBootstrap(200, metric, metric, 200, 1);
  EXPECT_DOUBLE_EQ(p.delta, 0.0);
  EXPECT_DOUBLE_EQ(p.p_a_not_better, 1.0);
}

TEST(MetricsTest, RocCurveEndpoints) {
  auto roc = RocCurve({0.9, 0.4, 0.3}, {1, 0, 1});
  EXPECT_EQ(roc.front(), std::make_pair(0.0, 0.0));
  EXPECT_EQ(roc.back(), std::make_pair(1.0, 1.0));
}

}  // namespace
}  // namespace chexworld
