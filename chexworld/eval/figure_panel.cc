// One panel of a figure: grid and ticks, reference lines, the series (lines,
// markers, error bars, bars), the frame, the labels and the legend.
#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "chexworld/eval/figure_layout.h"

namespace chexworld {
namespace figure_internal {
namespace {

// A colour-blind-friendly categorical palette (the "tab10" colours).
constexpr const char* kPalette[8] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728",
                                     "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"};

std::string Color(const Series& s, size_t index) {
  if (s.black) return "#000000";
  return kPalette[(s.color >= 0 ? static_cast<size_t>(s.color) : index) % 8];
}

class Panel {
 public:
  Panel(SvgWriter& out, const Axes& a, double left, double top, double w, double h)
      : out_(out), a_(a), left_(left), top_(top), w_(w), h_(h), xr_(XRange(a, w)), yr_(YRange(a)) {}

  void Write() {
    out_.Open("g", {{"class", "panel"}});
    Grid();
    for (const auto& r : a_.references) {
      out_.Leaf("line", {{"x1", Num(X(r.x0))}, {"y1", Num(Y(r.y0))}, {"x2", Num(X(r.x1))}, {"y2", Num(Y(r.y1))},
                         {"stroke", "#888888"}, {"stroke-width", "1"}, {"stroke-dasharray", "4 3"}});
    }
    int bar_series = 0, bar_index = 0, interval_series = 0, interval_index = 0;
    for (const auto& s : a_.series) bar_series += s.bars, interval_series += !s.bars && !s.y_low.empty();
    for (size_t k = 0; k < a_.series.size(); ++k) {
      const Series& s = a_.series[k];
      if (s.bars) {
        Bars(s, Color(s, k), bar_index++, bar_series);
      } else {
        // Error bars of several series at one x are set apart a few pixels.
        const double dodge = s.y_low.empty() ? 0 : 4.0 * (interval_index++ - (interval_series - 1) / 2.0);
        Lines(s, Color(s, k), dodge);
      }
    }
    out_.Leaf("rect", {{"x", Num(left_)}, {"y", Num(top_)}, {"width", Num(w_)}, {"height", Num(h_)},
                       {"fill", "none"}, {"stroke", "#000000"}, {"stroke-width", "1"}});
    Labels();
    Legend();
    out_.Close();
  }

 private:
  double X(double x) const {
    return left_ + (std::clamp(x, xr_.view_lo, xr_.view_hi) - xr_.view_lo) / (xr_.view_hi - xr_.view_lo) * w_;
  }
  double Y(double y) const {
    return top_ + h_ - (std::clamp(y, yr_.view_lo, yr_.view_hi) - yr_.view_lo) / (yr_.view_hi - yr_.view_lo) * h_;
  }

  void Grid() {
    for (double t : yr_.ticks) {
      out_.Leaf("line", {{"x1", Num(left_)}, {"y1", Num(Y(t))}, {"x2", Num(left_ + w_)}, {"y2", Num(Y(t))},
                         {"stroke", "#e3e3e3"}, {"stroke-width", "1"}});
      out_.Text("text", TextAttributes(left_ - 5, Y(t) + 4, 11, "end"), TickLabel(t, yr_.step));
    }
    if (!a_.categories.empty()) {
      const double slot = w_ / static_cast<double>(a_.categories.size());
      const size_t fit = static_cast<size_t>(std::max(4.0, slot / 6.6));
      for (size_t i = 0; i < a_.categories.size(); ++i) {
        out_.Text("text", TextAttributes(X(static_cast<double>(i)), top_ + h_ + 15, 11, "middle",
                                         {{"data-full", a_.categories[i]}}),
                  Abbreviate(a_.categories[i], fit));
      }
      return;
    }
    for (double t : xr_.ticks) {
      out_.Leaf("line", {{"x1", Num(X(t))}, {"y1", Num(top_ + h_)}, {"x2", Num(X(t))}, {"y2", Num(top_ + h_ + 4)},
                         {"stroke", "#000000"}, {"stroke-width", "1"}});
      out_.Text("text", TextAttributes(X(t), top_ + h_ + 16, 11, "middle"), TickLabel(t, xr_.step));
    }
  }

  void Lines(const Series& s, const std::string& color, double dodge) {
    std::string points;
    auto flush = [&] {
      if (points.empty() || !s.line) {
        points.clear();
        return;
      }
      Attributes at = {{"fill", "none"}, {"stroke", color}, {"stroke-width", absl::StrFormat("%g", s.width)}};
      if (s.dashed) at.emplace_back("stroke-dasharray", "6 3");
      at.emplace_back("stroke-linejoin", "round");
      at.emplace_back("points", points);
      out_.Leaf("polyline", at);
      points.clear();
    };
    for (size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
      if (!std::isfinite(s.x[i]) || !std::isfinite(s.y[i])) {
        flush();
        continue;
      }
      absl::StrAppend(&points, points.empty() ? "" : " ", absl::StrFormat("%.1f,%.1f", X(s.x[i]) + dodge, Y(s.y[i])));
    }
    flush();
    for (size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
      if (!std::isfinite(s.x[i]) || !std::isfinite(s.y[i])) continue;
      ErrorBar(s, i, color, X(s.x[i]) + dodge);
      if (s.markers) {
        out_.Leaf("circle", {{"cx", Num(X(s.x[i]) + dodge)}, {"cy", Num(Y(s.y[i]))}, {"r", "3"}, {"fill", color}});
      }
    }
  }

  void ErrorBar(const Series& s, size_t i, const std::string& color, double px) {
    if (i >= s.y_low.size() || i >= s.y_high.size() || !std::isfinite(s.y_low[i]) || !std::isfinite(s.y_high[i])) return;
    const double lo = Y(s.y_low[i]), hi = Y(s.y_high[i]);
    out_.Leaf("path", {{"d", absl::StrFormat("M%.1f %.1fV%.1fM%.1f %.1fH%.1fM%.1f %.1fH%.1f", px, lo, hi, px - 3, lo,
                                             px + 3, px - 3, hi, px + 3)},
                       {"stroke", color}, {"stroke-width", "1"}, {"fill", "none"}});
  }

  void Bars(const Series& s, const std::string& color, int index, int count) {
    const double slot = w_ / std::max(1.0, xr_.view_hi - xr_.view_lo), width = 0.7 * slot / count;
    for (size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
      if (!std::isfinite(s.y[i])) continue;
      const double cx = X(s.x[i]) - 0.35 * slot + (index + 0.5) * width;
      const double y0 = Y(0), y1 = Y(s.y[i]);
      out_.Leaf("rect", {{"x", Num(cx - width / 2)}, {"y", Num(std::min(y0, y1))}, {"width", Num(width)},
                         {"height", Num(std::abs(y1 - y0))}, {"fill", color}});
      out_.Text("text", TextAttributes(cx, std::min(y0, y1) - 3, 10, "middle"), absl::StrFormat("%.3g", s.y[i]));
      ErrorBar(s, i, "#000000", cx);
    }
  }

  void Labels() {
    if (!a_.title.empty()) {
      out_.Text("text", TextAttributes(left_ + w_ / 2, top_ - 9, 13, "middle",
                                       {{"font-weight", "bold"}, {"data-full", a_.title}}),
                Abbreviate(a_.title, static_cast<size_t>(w_ / 7.2)));
    }
    if (!a_.xlabel.empty()) out_.Text("text", TextAttributes(left_ + w_ / 2, top_ + h_ + 36, 12, "middle"), a_.xlabel);
    if (!a_.ylabel.empty()) {
      const double x = left_ - 44, y = top_ + h_ / 2;
      out_.Text("text", TextAttributes(x, y, 12, "middle", {{"transform", absl::StrFormat("rotate(-90 %.1f %.1f)", x, y)}}),
                a_.ylabel);
    }
  }

  void Legend() {
    const LegendBox box = PlaceLegend(a_, left_, top_, w_, h_, xr_, yr_);
    if (box.width == 0) return;
    out_.Open("g", {{"class", box.outside ? "legend outside" : "legend"}});
    out_.Leaf("rect", {{"x", Num(box.x)}, {"y", Num(box.y)}, {"width", Num(box.width)}, {"height", Num(box.height)},
                       {"fill", "#ffffff"}, {"fill-opacity", "0.85"}, {"stroke", "#bbbbbb"}});
    double ey = box.y + 13;
    for (size_t k = 0; k < a_.series.size(); ++k) {
      const Series& s = a_.series[k];
      if (s.label.empty()) continue;
      const std::string c = Color(s, k);
      if (s.bars) {
        out_.Leaf("rect", {{"x", Num(box.x + 6)}, {"y", Num(ey - 9)}, {"width", "18"}, {"height", "9"}, {"fill", c}});
      } else {
        Attributes at = {{"x1", Num(box.x + 6)}, {"y1", Num(ey - 4)}, {"x2", Num(box.x + 24)}, {"y2", Num(ey - 4)},
                         {"stroke", c}, {"stroke-width", absl::StrFormat("%g", std::max(2.0, s.width))}};
        if (s.dashed) at.emplace_back("stroke-dasharray", "6 3");
        out_.Leaf("line", at);
      }
      out_.Text("text", TextAttributes(box.x + 28, ey, 11, "start"), s.label);
      ey += 16;
    }
    for (const ReferenceLine* r : box.references) {
      out_.Leaf("line", {{"x1", Num(box.x + 6)}, {"y1", Num(ey - 4)}, {"x2", Num(box.x + 24)}, {"y2", Num(ey - 4)},
                         {"stroke", "#888888"}, {"stroke-width", "1"}, {"stroke-dasharray", "4 3"}});
      out_.Text("text", TextAttributes(box.x + 28, ey, 11, "start"), r->label);
      ey += 16;
    }
    out_.Close();
  }

  SvgWriter& out_;
  const Axes& a_;
  double left_, top_, w_, h_;
  Range xr_, yr_;
};

}  // namespace

void WritePanel(SvgWriter& out, const Axes& a, double left, double top, double w, double h) {
  Panel(out, a, left, top, w, h).Write();
}

}  // namespace figure_internal
}  // namespace chexworld
