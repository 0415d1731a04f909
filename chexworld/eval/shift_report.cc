#include "chexworld/eval/shift_report.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "chexworld/eval/metrics.h"
#include "chexworld/eval/figure.h"

namespace chexworld {
namespace {

std::string Json(double v) { return std::isnan(v) ? "null" : absl::StrFormat("%.6g", v); }
std::string JsonInterval(const Interval& i) {
  return absl::StrCat("{\"value\": ", Json(i.value), ", \"low\": ", Json(i.low), ", \"high\": ", Json(i.high), "}");
}
std::string Cell(const Interval& i) { return absl::StrFormat("%.3f [%.3f, %.3f]", i.value, i.low, i.high); }

// The strength at which a kind leaves the image unchanged.
double Identity(const std::string& kind) { return kind == "blur" || kind == "noise" ? 0.0 : 1.0; }

// What a kind's strength is, for the x axis.
std::string StrengthLabel(const std::string& kind) {
  if (kind == "exposure") return "exposure factor (1 = unchanged)";
  if (kind == "gamma") return "gamma (1 = unchanged)";
  if (kind == "contrast") return "contrast factor (1 = unchanged)";
  if (kind == "blur") return "Gaussian blur \xCF\x83 (px)";
  if (kind == "noise") return "Gaussian noise \xCF\x83";
  return kind + " strength";
}

struct Row {
  std::string kind;
  double strength;
  std::vector<Interval> auroc;
  std::vector<PairedComparison> paired;  // [e] vs encoder 0 (e > 0)
};

// One panel per shift kind: mean AUROC (95% interval) against strength, the
// unshifted row at the kind's identity strength.
std::string ShiftFigure(const std::vector<std::string>& names, const std::vector<Row>& rows) {
  std::vector<std::string> kinds;
  for (size_t r = 1; r < rows.size(); ++r) {
    if (std::find(kinds.begin(), kinds.end(), rows[r].kind) == kinds.end()) kinds.push_back(rows[r].kind);
  }
  double lo = 1.0;
  for (const Row& r : rows)
    for (const auto& a : r.auroc)
      if (!std::isnan(a.low)) lo = std::min(lo, a.low);
  Figure f;
  f.title = "Test AUROC under appearance shifts of the test images";
  f.columns = std::min<int>(static_cast<int>(kinds.size()), 3);
  f.panel_width = 250;
  f.panel_height = 200;
  f.caption = "Error bars: 95% bootstrap intervals over test images; the point at the identity strength is the unshifted test set.";
  for (size_t k = 0; k < kinds.size(); ++k) {
    Axes& a = f.AddPanel(kinds[k], StrengthLabel(kinds[k]), "mean AUROC");
    a.ymin = std::max(0.0, std::floor(std::min(lo, 0.5) * 10) / 10), a.ymax = 1.0;
    a.legend = k == 0 ? "auto" : "none";  // one legend: the same encoders in every panel
    std::vector<std::pair<double, size_t>> points = {{Identity(kinds[k]), 0}};  // (strength, row)
    for (size_t r = 1; r < rows.size(); ++r) {
      if (rows[r].kind == kinds[k]) points.emplace_back(rows[r].strength, r);
    }
    std::sort(points.begin(), points.end());
    a.references.push_back(ReferenceLine{points.front().first, 0.5, points.back().first, 0.5, "chance"});
    for (size_t e = 0; e < names.size(); ++e) {
      Series s{names[e]};
      s.markers = true;
      for (const auto& [strength, r] : points) {
        s.x.push_back(strength);
        s.y.push_back(rows[r].auroc[e].value);
        s.y_low.push_back(rows[r].auroc[e].low);
        s.y_high.push_back(rows[r].auroc[e].high);
      }
      a.series.push_back(std::move(s));
    }
  }
  return RenderSvg(f);
}

}  // namespace

ShiftMatrix MakeShiftMatrix(const TaskData& data, const std::vector<std::string>& names,
                            const std::vector<std::vector<double>>& unshifted, const ShiftScores& shifted,
                            int resamples) {
  const int64_t nt = static_cast<int64_t>(data.test.size()), c = data.c;
  std::vector<double> labels;
  for (int64_t i : data.test)
    for (int64_t k = 0; k < c; ++k) labels.push_back(data.targets[i * c + k]);
  auto metric = [&](const std::vector<double>& scores) {
    return [&, scores](const std::vector<int64_t>& idx) {
      return Classify(scores, labels, nt, c, data.multiclass, &idx).mean_auroc;
    };
  };
  const uint64_t seed = 12345;
  ShiftMatrix out;
  // Rows: no shift, then every level.
  std::vector<Row> rows;
  auto make_row = [&](const std::string& kind, double strength, const std::vector<const std::vector<double>*>& s) {
    Row r{kind, strength, {}, {}};
    for (size_t e = 0; e < s.size(); ++e) {
      r.auroc.push_back(Bootstrap(nt, metric(*s[e]), resamples, seed));
      r.paired.push_back(e == 0 ? PairedComparison{}
                                : PairedBootstrap(nt, metric(*s[e]), metric(*s[0]), resamples, seed));
    }
    return r;
  };
  {
    std::vector<const std::vector<double>*> s;
    for (const auto& u : unshifted) s.push_back(&u);
    rows.push_back(make_row("none", 0, s));
  }
  for (size_t l = 0; l < shifted.levels.size(); ++l) {
    std::vector<const std::vector<double>*> s;
    for (const auto& per_encoder : shifted.scores) s.push_back(&per_encoder[l]);
    rows.push_back(make_row(shifted.levels[l].kind, shifted.levels[l].strength, s));
  }

  // Markdown.
  std::string header = "| shift | strength |";
  std::string rule = "|---|---|";
  for (size_t e = 0; e < names.size(); ++e) {
    absl::StrAppend(&header, " ", names[e], " mean AUROC [95% CI] |");
    rule += "---|";
  }
  for (size_t e = 1; e < names.size(); ++e) {
    absl::StrAppend(&header, " ", names[e], " − ", names[0], ": ΔAUROC [95% CI], P(not better) |");
    rule += "---|";
  }
  out.markdown = absl::StrCat("#### Appearance shifts of the test images\n\n", header, "\n", rule, "\n");
  for (const Row& r : rows) {
    absl::StrAppend(&out.markdown, "| ", r.kind, " | ", r.kind == "none" ? "—" : absl::StrFormat("%g", r.strength), " |");
    for (const auto& a : r.auroc) absl::StrAppend(&out.markdown, " ", Cell(a), " |");
    for (size_t e = 1; e < r.paired.size(); ++e) {
      const auto& p = r.paired[e];
      absl::StrAppend(&out.markdown, absl::StrFormat(" %+.3f [%+.3f, %+.3f], %.3f |", p.delta, p.delta_interval.low,
                                                     p.delta_interval.high, p.p_a_not_better));
    }
    absl::StrAppend(&out.markdown, "\n");
  }

  // JSON.
  std::vector<std::string> items;
  for (const Row& r : rows) {
    std::vector<std::string> encs;
    for (size_t e = 0; e < r.auroc.size(); ++e) {
      const std::string vs = e == 0 ? "null"
                                    : absl::StrCat("{\"delta_auroc\": ", Json(r.paired[e].delta), ", \"low\": ",
                                                   Json(r.paired[e].delta_interval.low), ", \"high\": ",
                                                   Json(r.paired[e].delta_interval.high), ", \"p_not_better\": ",
                                                   Json(r.paired[e].p_a_not_better), "}");
      encs.push_back(absl::StrCat("{\"name\": \"", names[e], "\", \"mean_auroc\": ", JsonInterval(r.auroc[e]),
                                  ", \"vs_first\": ", vs, "}"));
      if (r.kind != "none") out.summary[absl::StrCat(names[e], "/auroc_", r.kind, "_", absl::StrFormat("%g", r.strength))] = r.auroc[e].value;
    }
    items.push_back(absl::StrCat("{\"shift\": \"", r.kind, "\", \"strength\": ", r.kind == "none" ? "null" : Json(r.strength),
                                 ", \"encoders\": [", absl::StrJoin(encs, ", "), "]}"));
  }
  out.json = absl::StrCat("[\n    ", absl::StrJoin(items, ",\n    "), "\n  ]");

  out.svg = ShiftFigure(names, rows);
  absl::StrAppend(&out.markdown, "\nFigure: mean AUROC against shift strength, one panel per kind; the unshifted ",
                  "test set sits at the kind's identity strength; error bars: 95% bootstrap intervals over test images.\n");
  return out;
}

}  // namespace chexworld
