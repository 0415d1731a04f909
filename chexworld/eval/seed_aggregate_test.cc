// Test predictions survive the CSV round trip; pooling over seeds gives the
// across-seed mean and sd, and a paired interval that widens with seed
// variation (not only with test-set sampling).
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "chexworld/eval/seed_aggregate.h"
#include "chexworld/eval/test_scores.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace chexworld {
namespace {

using ::testing::HasSubstr;

std::string Tmp(const std::string& name) {
  return std::string(getenv("TEST_TMPDIR") ? getenv("TEST_TMPDIR") : "/tmp") + "/" + name;
}

// One class, n images with alternating labels; score = label * separation +
// a fixed pseudo-random jitter, so AUROC grows with the separation.
TestScores MakeRun(const std::vector<std::pair<std::string, double>>& encoders, int n = 600) {
  TestScores t;
  t.class_names = {"finding"};
  t.conditions = {"none", "contrast 0.4"};
  for (int i = 0; i < n; ++i) {
    t.ids.push_back("img" + std::to_string(i));
    t.labels.push_back(i % 2);
  }
  for (const auto& [name, separation] : encoders) {
    t.encoders.push_back(name);
    for (const auto& cond : t.conditions) {
      std::vector<double> s;
      for (int i = 0; i < n; ++i) s.push_back((i % 2) * separation + ((i * 7919) % 1000) / 1000.0);
      t.scores[{name, cond}] = s;
    }
  }
  return t;
}

TEST(TestScores, CsvRoundTrip) {
  TestScores t = MakeRun({{"chexworld", 0.5}, {"random", 0.1}}, 10);
  t.labels[3] = std::nan("");
  t.multiclass = true;
  std::ofstream(Tmp("s.csv")) << TestScoresToCsv(t);
  auto back = ReadTestScores(Tmp("s.csv"));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->ids, t.ids);
  EXPECT_TRUE(back->multiclass);
  EXPECT_EQ(back->conditions, t.conditions);
  EXPECT_EQ(back->encoders, t.encoders);
  EXPECT_TRUE(std::isnan(back->labels[3]));
  EXPECT_DOUBLE_EQ(back->scores.at({"random", "contrast 0.4"})[7], t.scores.at({"random", "contrast 0.4"})[7]);
  std::ofstream(Tmp("bad.csv")) << "# chexworld test scores v1, multiclass=0\ntest_id,label:a,e|none|a\nx,1\n";
  EXPECT_THAT(std::string(ReadTestScores(Tmp("bad.csv")).status().message()),
              HasSubstr("bad.csv:3: 2 cells, the header has 3"));
}

TEST(AggregateSeeds, MeanSdAndAPairedIntervalThatCoversSeedVariation) {
  // Method "b" is much better than "a" at seed 0 and slightly worse at seeds
  // 1 and 2: on average better, but not reliably so.
  std::vector<TestScores> runs = {MakeRun({{"a", 0.3}, {"b", 0.9}}), MakeRun({{"a", 0.3}, {"b", 0.25}}),
                                  MakeRun({{"a", 0.3}, {"b", 0.25}})};
  SeedMethod a{"a", "a", {}}, b{"b", "b", {}};
  for (const auto& r : runs) a.runs.push_back(&r), b.runs.push_back(&r);
  auto agg = AggregateSeeds("probe", {a, b}, {"0", "1", "2"}, 400);
  ASSERT_TRUE(agg.ok()) << agg.status();
  EXPECT_THAT(agg->markdown, HasSubstr("| condition | a mean ± sd | b mean ± sd | b − a: Δ [95% CI], P(not better) |"));
  EXPECT_THAT(agg->markdown, HasSubstr("| contrast 0.4 |"));
  EXPECT_THAT(agg->markdown, HasSubstr("a mean ± sd"));
  EXPECT_THAT(agg->markdown, HasSubstr("0.000 |"));  // "a" is the same at every seed: sd 0
  // The JSON holds the numbers: per-seed deltas +, -, -; interval spans 0.
  const std::string& j = agg->json;
  const size_t vs = j.find("\"vs_first\": {\"delta\": ");
  ASSERT_NE(vs, std::string::npos);
  const double delta = std::atof(j.c_str() + vs + 22);
  const double low = std::atof(j.c_str() + j.find("\"low\": ", vs) + 7);
  const double high = std::atof(j.c_str() + j.find("\"high\": ", vs) + 8);
  EXPECT_GT(delta, 0.0);
  EXPECT_LT(low, 0.0) << j;   // seeds 1 and 2 alone: b is worse
  EXPECT_GT(high, delta);

  // The same method against itself: no difference, a zero-width interval.
  auto same = AggregateSeeds("probe", {a, a}, {"0", "1", "2"}, 100);
  ASSERT_TRUE(same.ok());
  EXPECT_THAT(same->markdown, HasSubstr("+0.000 [+0.000, +0.000], 1.000"));
}

TEST(AggregateSeeds, RefusesRunsWithAnotherTestSet) {
  TestScores r0 = MakeRun({{"a", 0.3}}), r1 = MakeRun({{"a", 0.3}}, 500);
  SeedMethod a{"a", "a", {&r0, &r1}};
  auto agg = AggregateSeeds("probe", {a}, {"0", "1"});
  EXPECT_THAT(std::string(agg.status().message()), HasSubstr("method 'a', seed 1: its test images or classes differ"));
  SeedMethod missing{"m", "nope", {&r0, &r0}};
  EXPECT_THAT(std::string(AggregateSeeds("probe", {missing}, {"0", "1"}).status().message()),
              HasSubstr("no encoder 'nope'"));
}

}  // namespace
}  // namespace chexworld
