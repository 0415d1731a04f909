#include "chexworld/eval/shift_report.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "chexworld/eval/metrics.h"
#include "chexworld/eval/plot.h"

namespace chexworld {
namespace {

std::string Json(double v) { return std::isnan(v) ? "null" : absl::StrFormat("%.6g", v); }
std::string JsonInterval(const Interval& i) {
  return absl::StrCat("{\"value\": ", Json(i.value), ", \"low\": ", Json(i.low), ", \"high\": ", Json(i.high), "}");
}
std::string Cell(const Interval& i) { return absl::StrFormat("%.3f [%.3f, %.3f]", i.value, i.low, i.high); }

// The strength at which a kind leaves the image unchanged.
double Identity(const std::string& kind) { return kind == "blur" || kind == "noise" ? 0.0 : 1.0; }

}  // namespace

ShiftMatrix MakeShiftMatrix(const TaskData& data, const std::vector<std::string>& names,
                            const std::vector<std::vector<double>>& unshifted, const ShiftScores& shifted,
                            int resamples, const std::string& png_name) {
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
  struct Row {
    std::string kind;
    double strength;
    std::vector<Interval> auroc;
    std::vector<PairedComparison> paired;  // [e] vs encoder 0 (e > 0)
  };
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

  // PNG: one panel per kind, AUROC against strength, the unshifted value at
  // the kind's identity strength.
  std::vector<std::string> kinds;
  for (const auto& l : shifted.levels) {
    if (std::find(kinds.begin(), kinds.end(), l.kind) == kinds.end()) kinds.push_back(l.kind);
  }
  double lo = 1.0;
  for (const Row& r : rows)
    for (const auto& a : r.auroc)
      if (!std::isnan(a.value)) lo = std::min(lo, a.value);
  const double ymin = std::max(0.0, std::floor(std::min(lo, 0.5) * 10) / 10), ymax = 1.0;
  const int pw = 220, ph = 200, margin = 16;
  out.png_width = static_cast<int>(kinds.size()) * (pw + margin) + margin;
  out.png_height = ph + 2 * margin;
  Canvas canvas(out.png_width, out.png_height);
  for (size_t k = 0; k < kinds.size(); ++k) {
    std::vector<std::pair<double, size_t>> points = {{Identity(kinds[k]), 0}};  // (strength, row)
    for (size_t r = 1; r < rows.size(); ++r) {
      if (rows[r].kind == kinds[k]) points.emplace_back(rows[r].strength, r);
    }
    std::sort(points.begin(), points.end());
    Panel p{margin + static_cast<int>(k) * (pw + margin), margin, pw, ph, points.front().first, points.back().first, ymin, ymax};
    for (double g = std::ceil(ymin * 10) / 10; g <= ymax + 1e-9; g += 0.1) p.HorizontalGrid(canvas, g);
    p.Axes(canvas);
    for (size_t e = 0; e < names.size(); ++e) {
      for (size_t i = 0; i < points.size(); ++i) {
        const double y = rows[points[i].second].auroc[e].value;
        if (std::isnan(y)) continue;
        p.Marker(canvas, points[i].first, y, SeriesColor(static_cast<int>(e)));
        if (i > 0 && !std::isnan(rows[points[i - 1].second].auroc[e].value)) {
          p.Line(canvas, points[i - 1].first, rows[points[i - 1].second].auroc[e].value, points[i].first, y,
                 SeriesColor(static_cast<int>(e)));
        }
      }
    }
  }
  out.png_rgb = canvas.rgb();
  std::vector<std::string> legend;
  for (size_t e = 0; e < names.size(); ++e) legend.push_back(absl::StrCat(names[e], " ", SeriesColorName(static_cast<int>(e))));
  absl::StrAppend(&out.markdown, "\nAUROC against strength: ", png_name, ", panels left to right ",
                  absl::StrJoin(kinds, ", "), "; x from the lowest to the highest strength (the unshifted image at the ",
                  "kind's identity strength), y from ", absl::StrFormat("%.1f", ymin), " to 1.0 with a line every 0.1; ",
                  absl::StrJoin(legend, ", "), ".\n");
  return out;
}

}  // namespace chexworld
