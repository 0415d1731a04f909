// The report figures are drawn with what makes them readable on their own:
// titles, axis labels, tick labels and legends as SVG text, one ROC panel per
// class, test positives/negatives in the tables, long names abbreviated with
// a key. Torch-free.
#include <cmath>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "chexworld/eval/classification_report.h"
#include "chexworld/eval/figure.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace chexworld {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

// Every <text> element's content, in document order.
std::vector<std::string> Texts(const std::string& svg) {
  std::vector<std::string> out;
  for (size_t i = svg.find("<text"); i != std::string::npos; i = svg.find("<text", i + 1)) {
    const size_t open = svg.find('>', i), close = svg.find("</text>", i);
    out.push_back(svg.substr(open + 1, close - open - 1));
  }
  return out;
}

bool Has(const std::vector<std::string>& v, const std::string& s) {
  for (const auto& x : v)
    if (x == s) return true;
  return false;
}

// Elements open and close in order (no attribute contains '<' or '>').
bool WellFormed(const std::string& svg) {
  std::vector<std::string> stack;
  for (size_t i = svg.find('<'); i != std::string::npos; i = svg.find('<', i + 1)) {
    const size_t end = svg.find('>', i);
    if (end == std::string::npos) return false;
    std::string tag = svg.substr(i + 1, end - i - 1);
    if (tag.back() == '/') continue;
    if (tag[0] == '/') {
      if (stack.empty() || stack.back() != tag.substr(1)) return false;
      stack.pop_back();
    } else {
      stack.push_back(tag.substr(0, tag.find(' ')));
    }
  }
  return stack.empty();
}

TEST(NiceTicks, RoundStepsCoverTheRange) {
  EXPECT_THAT(NiceTicks(0, 1, 5), ElementsAre(0, 0.2, 0.4, 0.6000000000000001, 0.8, 1));
  EXPECT_THAT(NiceTicks(0, 256, 5), ElementsAre(0, 50, 100, 150, 200, 250));
  EXPECT_EQ(TickLabel(0.25, 0.25), "0.25");
  EXPECT_EQ(TickLabel(100, 50), "100");
  EXPECT_EQ(TickLabel(0.6000000000000001, 0.2), "0.6");
  EXPECT_TRUE(NiceTicks(1, 1).empty());
}

TEST(Abbreviate, ListsKeepFirstAndLastMembers) {
  const std::string nih = "Atelectasis+Cardiomegaly+Effusion+Infiltration+Mass+Nodule+Pneumonia+Hernia";
  EXPECT_EQ(Abbreviate(nih, 40), "Atelectasis+Cardiomegaly+\xE2\x80\xA6+Hernia");
  EXPECT_EQ(Abbreviate("short", 40), "short");
  const std::string a = Abbreviate("a_very_long_label_without_any_separator", 11);
  EXPECT_EQ(a, "a_ver\xE2\x80\xA6rator");
  std::vector<std::string> key;
  EXPECT_EQ(ShortClassName(nih, 28, &key), Abbreviate(nih, 28));
  EXPECT_THAT(key, ElementsAre(Abbreviate(nih, 28) + " = " + nih));
}

TEST(RenderSvg, PanelsHaveTitleAxisLabelsTicksAndLegend) {
  Figure f;
  f.title = "Training loss";
  Axes& a = f.AddPanel("panel <1>", "micro-batch", "loss");
  a.series.push_back(Series{"loss (total)", {0, 100, 200}, {1.0, 0.5, std::nan("")}});
  a.series.back().black = true;
  a.series.push_back(Series{"loss_12", {0, 100, 200}, {0.9, 0.4, 0.3}});
  a.references.push_back(ReferenceLine{0, 0, 200, 1, "chance"});
  const std::string svg = RenderSvg(f);
  EXPECT_TRUE(WellFormed(svg)) << svg;
  const auto t = Texts(svg);
  EXPECT_TRUE(Has(t, "Training loss"));
  EXPECT_TRUE(Has(t, "panel &lt;1&gt;"));  // escaped
  EXPECT_TRUE(Has(t, "micro-batch"));
  EXPECT_TRUE(Has(t, "loss"));
  for (const char* tick : {"0", "100", "200", "0.2", "1.0"}) EXPECT_TRUE(Has(t, tick)) << tick;
  for (const char* entry : {"loss (total)", "loss_12", "chance"}) EXPECT_TRUE(Has(t, entry)) << entry;
  EXPECT_THAT(svg, HasSubstr("<g class=\"legend\">"));
  EXPECT_THAT(svg, HasSubstr("stroke=\"#000000\" stroke-width=\"1.6\""));  // the total, in black
  // A NaN breaks the line instead of drawing to a bogus point.
  EXPECT_THAT(svg, Not(HasSubstr("nan")));
}

TEST(RenderSvg, BarsAndErrorBars) {
  Figure f;
  Axes& a = f.AddPanel("", "condition", "top-1");
  a.categories = {"true offset", "zero offset", "wrong offset"};
  Series s{""};
  s.bars = true;
  s.x = {0, 1, 2}, s.y = {0.8, 0.3, 0.1};
  a.series.push_back(s);
  Axes& b = f.AddPanel("with intervals", "strength", "AUROC");
  b.series.push_back(Series{"enc", {0, 1}, {0.7, 0.8}, {0.6, 0.7}, {0.8, 0.9}});
  const std::string svg = RenderSvg(f);
  EXPECT_TRUE(WellFormed(svg));
  const auto t = Texts(svg);
  for (const char* c : {"true offset", "zero offset", "wrong offset", "0.8", "0.3"}) EXPECT_TRUE(Has(t, c)) << c;
  size_t error_bars = 0;
  for (size_t i = svg.find("<path d=\"M"); i != std::string::npos; i = svg.find("<path d=\"M", i + 1)) ++error_bars;
  EXPECT_EQ(error_bars, 2u);
}

TaskData TwoClassTask() {
  TaskData d;
  d.c = 2;
  d.class_names = {"opacity", "Atelectasis+Cardiomegaly+Effusion+Infiltration+Hernia"};
  d.n = 8;
  for (int i = 0; i < 8; ++i) {
    d.test.push_back(i);
    d.targets.push_back(i % 2);                           // 4 positives
    d.targets.push_back(i < 3 ? 1.0 : i == 7 ? std::nan("") : 0.0);  // 3 positives, 4 negatives, 1 unknown
  }
  d.description = "hand-made";
  return d;
}

TEST(ClassificationReport, CountsPanelsAndKey) {
  const TaskData d = TwoClassTask();
  const ClassCounts counts = CountTestLabels(d);
  EXPECT_THAT(counts.positives, ElementsAre(4, 3));
  EXPECT_THAT(counts.negatives, ElementsAre(4, 4));
  std::vector<double> good, weak;
  for (int i = 0; i < 8; ++i) {
    good.push_back(i % 2 ? 0.9 : 0.1), good.push_back(i < 3 ? 0.8 : 0.2);
    weak.push_back(0.5 + 0.01 * i), weak.push_back(0.5 - 0.01 * i);
  }
  const std::string dir = std::string(getenv("TEST_TMPDIR") ? getenv("TEST_TMPDIR") : "/tmp") + "/figures_test";
  auto r = WriteClassificationReport("probe", dir, d, {"good", "weak"}, {good, weak}, 50);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_THAT(r->markdown, HasSubstr("| class | test positives | test negatives | prevalence |"));
  EXPECT_THAT(r->markdown, HasSubstr("| opacity | 4 | 4 | 0.500 |"));
  EXPECT_THAT(r->markdown, HasSubstr("Key: " + Abbreviate(d.class_names[1], 28) + " = " + d.class_names[1]));
  EXPECT_THAT(r->markdown, Not(HasSubstr("| " + d.class_names[1])));  // never the long name in a cell
  std::stringstream roc;
  roc << std::ifstream(dir + "/probe_roc.svg").rdbuf();
  EXPECT_TRUE(WellFormed(roc.str()));
  const auto t = Texts(roc.str());
  EXPECT_EQ(std::count(t.begin(), t.end(), "false-positive rate"), 2);  // one panel per class
  EXPECT_TRUE(Has(t, "opacity (4+ / 4\xE2\x88\x92)"));
  EXPECT_TRUE(Has(t, "good 1.000"));
  std::stringstream json;
  json << std::ifstream(dir + "/probe.json").rdbuf();
  EXPECT_THAT(json.str(), HasSubstr("\"test_positives\": 3, \"test_negatives\": 4"));
}

}  // namespace
}  // namespace chexworld
