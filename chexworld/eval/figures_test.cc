// The report figures are well-formed XML (read back with libxml2's parser) and
// drawn with what makes them readable on their own: titles, axis labels, tick
// labels and legends as SVG text, data clear of the frame, ticks at the
// data's extremes, legends off the data, one ROC panel per class, test
// positives/negatives in the tables, long names abbreviated with a key.
// Torch-free.
#include <libxml/parser.h>
#include <libxml/tree.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "chexworld/eval/classification_report.h"
#include "chexworld/eval/figure.h"
#include "chexworld/eval/shift_report.h"
#include "chexworld/eval/svg_writer.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace chexworld {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

// A figure read back with libxml2's parser: a parse error fails the test with
// the parser's message; the text elements' contents (decoded) and elements by
// name.
class Svg {
 public:
  explicit Svg(const std::string& svg) {
    doc_ = xmlReadMemory(svg.data(), static_cast<int>(svg.size()), "figure.svg", nullptr,
                         XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    if (doc_ == nullptr) {
      const xmlError* e = xmlGetLastError();
      error_ = e ? absl::StrCat("line ", e->line, ": ", e->message) : "unknown parse error";
      return;
    }
    Walk(xmlDocGetRootElement(doc_));
  }
  ~Svg() {
    if (doc_) xmlFreeDoc(doc_);
  }
  bool ok() const { return doc_ != nullptr; }
  const std::string& error() const { return error_; }
  const std::vector<std::string>& texts() const { return texts_; }
  // Attribute maps of every element named `name`, in document order.
  std::vector<std::map<std::string, std::string>> Elements(const std::string& name) const {
    std::vector<std::map<std::string, std::string>> out;
    for (const auto& [n, attrs] : elements_)
      if (n == name) out.push_back(attrs);
    return out;
  }

 private:
  void Walk(xmlNode* node) {
    for (xmlNode* n = node; n != nullptr; n = n->next) {
      if (n->type != XML_ELEMENT_NODE) continue;
      std::map<std::string, std::string> attrs;
      for (xmlAttr* a = n->properties; a != nullptr; a = a->next) {
        xmlChar* v = xmlNodeListGetString(doc_, a->children, 1);
        attrs[reinterpret_cast<const char*>(a->name)] = v ? reinterpret_cast<const char*>(v) : "";
        xmlFree(v);
      }
      elements_.emplace_back(reinterpret_cast<const char*>(n->name), attrs);
      if (xmlStrEqual(n->name, BAD_CAST "text")) {
        xmlChar* c = xmlNodeGetContent(n);
        texts_.push_back(c ? reinterpret_cast<const char*>(c) : "");
        xmlFree(c);
      }
      Walk(n->children);
    }
  }
  xmlDocPtr doc_ = nullptr;
  std::string error_;
  std::vector<std::string> texts_;
  std::vector<std::pair<std::string, std::map<std::string, std::string>>> elements_;
};

bool Has(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

double Attr(const std::map<std::string, std::string>& a, const std::string& k) { return std::stod(a.at(k)); }

// The plot frame of the first panel: (left, top, right, bottom).
std::array<double, 4> Frame(const Svg& svg) {
  for (const auto& r : svg.Elements("rect")) {
    if (r.count("stroke") && r.at("stroke") == "#000000" && r.at("fill") == "none") {
      return {Attr(r, "x"), Attr(r, "y"), Attr(r, "x") + Attr(r, "width"), Attr(r, "y") + Attr(r, "height")};
    }
  }
  return {0, 0, 0, 0};
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
  Axes& a = f.AddPanel("panel <1> & \"quotes\"", "micro-batch", "loss");
  a.series.push_back(Series{"loss (total)", {0, 100, 200}, {1.0, 0.5, std::nan("")}});
  a.series.back().black = true;
  a.series.push_back(Series{"loss_12 \x01<b>", {0, 100, 200}, {0.9, 0.4, 0.3}});
  a.references.push_back(ReferenceLine{0, 0, 200, 1, "chance"});
  const std::string text = RenderSvg(f);
  const Svg svg(text);
  ASSERT_TRUE(svg.ok()) << svg.error() << "\n" << text;
  const auto& t = svg.texts();
  EXPECT_TRUE(Has(t, "Training loss"));
  EXPECT_TRUE(Has(t, "panel <1> & \"quotes\""));  // escaped by the writer, read back whole
  EXPECT_TRUE(Has(t, "loss_12 <b>"));               // the control character dropped
  EXPECT_TRUE(Has(t, "micro-batch"));
  EXPECT_TRUE(Has(t, "loss"));
  for (const char* tick : {"0", "100", "200", "0.2", "1.0"}) EXPECT_TRUE(Has(t, tick)) << tick;
  for (const char* entry : {"loss (total)", "chance"}) EXPECT_TRUE(Has(t, entry)) << entry;
  bool black = false;
  for (const auto& p : svg.Elements("polyline")) black = black || p.at("stroke") == "#000000";
  EXPECT_TRUE(black);  // the total, in black
  // A NaN breaks the line instead of drawing to a bogus point.
  EXPECT_THAT(text, Not(HasSubstr("nan")));
}

// Every point and error bar lies inside the frame, clear of it; the ticks
// reach the extremes (a few distinct x values are each a tick).
TEST(RenderSvg, DataClearOfTheFrameAndTicksAtTheExtremes) {
  Figure f;
  Axes& a = f.AddPanel("contrast", "contrast factor", "mean AUROC");
  a.ymin = 0.5, a.ymax = 1.0;
  Series s{"encoder"};
  s.markers = true;
  s.x = {0.4, 0.6, 0.8, 1.0};
  s.y = {0.5, 0.7, 0.95, 1.0};
  s.y_low = {0.45, 0.6, 0.9, 0.97}, s.y_high = {0.55, 0.8, 1.0, 1.0};
  a.series.push_back(s);
  const Svg svg(RenderSvg(f));
  ASSERT_TRUE(svg.ok()) << svg.error();
  const auto [left, top, right, bottom] = Frame(svg);
  ASSERT_GT(right, left);
  for (const auto& c : svg.Elements("circle")) {
    EXPECT_GT(Attr(c, "cx"), left + 2);
    EXPECT_LT(Attr(c, "cx"), right - 2);
    EXPECT_GT(Attr(c, "cy"), top + 2);
    EXPECT_LT(Attr(c, "cy"), bottom - 2);
  }
  for (const char* tick : {"0.4", "0.6", "0.8", "1", "0.5", "1.0"}) EXPECT_TRUE(Has(svg.texts(), tick)) << tick;
}

// The legend takes a corner with no data under it, and goes beside the panel
// when every corner has data.
TEST(RenderSvg, LegendCoversNoData) {
  auto legend_box = [](const Svg& svg) {
    for (const auto& g : svg.Elements("rect")) {
      if (g.count("fill-opacity")) {
        return std::array<double, 4>{Attr(g, "x"), Attr(g, "y"), Attr(g, "x") + Attr(g, "width"),
                                     Attr(g, "y") + Attr(g, "height")};
      }
    }
    return std::array<double, 4>{0, 0, 0, 0};
  };
  Figure f;
  Axes& a = f.AddPanel("", "x", "y");
  a.series.push_back(Series{"rising", {0, 1, 2, 3, 4}, {0, 1, 2, 3, 4}});  // lower left to upper right
  const Svg one(RenderSvg(f));
  ASSERT_TRUE(one.ok()) << one.error();
  const auto box = legend_box(one);
  const auto [left, top, right, bottom] = Frame(one);
  EXPECT_LT(box[2], (left + right) / 2 + 1);  // the upper left corner: the line runs through the others
  EXPECT_LT(box[3], (top + bottom) / 2);
  // Points in every corner: beside the panel, and the figure wider for it.
  Figure g;
  Axes& b = g.AddPanel("", "x", "y");
  b.series.push_back(Series{"corners", {0, 4, 0, 4, 2}, {0, 0, 4, 4, 2}});
  b.series.back().markers = true;
  const std::string text = RenderSvg(g);
  const Svg two(text);
  ASSERT_TRUE(two.ok()) << two.error();
  EXPECT_GT(legend_box(two)[0], Frame(two)[2]);
  EXPECT_GT(Attr(two.Elements("svg")[0], "width"), Attr(one.Elements("svg")[0], "width"));
  EXPECT_THAT(text, HasSubstr("class=\"legend outside\""));
}

// The writer escapes and cleans whatever it is given.
TEST(SvgWriter, WellFormedWhateverTheText) {
  SvgWriter w;
  w.Open("svg", {{"xmlns", "http://www.w3.org/2000/svg"}, {"data-x", "a\"b<c>&d\x02"}});
  w.Text("text", {{"x", "1"}}, std::string("bad \xFF utf-8 ]]> <tag> & \x1b end"));
  w.Leaf("rect", {{"width", "1"}});
  const Svg svg(w.Finish());  // the open <svg> closed by Finish
  ASSERT_TRUE(svg.ok()) << svg.error();
  EXPECT_EQ(svg.texts()[0], "bad \xEF\xBF\xBD utf-8 ]]> <tag> &  end");
  EXPECT_EQ(svg.Elements("svg")[0].at("data-x"), "a\"b<c>&d");
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
  const Svg svg(RenderSvg(f));
  ASSERT_TRUE(svg.ok()) << svg.error();
  const auto& t = svg.texts();
  for (const char* c : {"true offset", "zero offset", "wrong offset", "0.8", "0.3"}) EXPECT_TRUE(Has(t, c)) << c;
  EXPECT_EQ(svg.Elements("path").size(), 2u);  // the error bars
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
  const Svg svg(roc.str());
  ASSERT_TRUE(svg.ok()) << svg.error();
  const auto& t = svg.texts();
  EXPECT_EQ(std::count(t.begin(), t.end(), "false-positive rate"), 2);  // one panel per class
  EXPECT_TRUE(Has(t, "opacity (4+ / 4\xE2\x88\x92)"));
  EXPECT_TRUE(Has(t, "good 1.000"));
  std::stringstream json;
  json << std::ifstream(dir + "/probe.json").rdbuf();
  EXPECT_THAT(json.str(), HasSubstr("\"test_positives\": 3, \"test_negatives\": 4"));
}

}  // namespace
}  // namespace chexworld
