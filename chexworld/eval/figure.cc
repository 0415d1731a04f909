#include "chexworld/eval/figure.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"

namespace chexworld {
namespace {

// A colour-blind-friendly categorical palette (the "tab10" colours).
constexpr const char* kPalette[8] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728",
                                     "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"};
constexpr const char* kFont = "font-family=\"DejaVu Sans, Arial, Helvetica, sans-serif\"";
constexpr int kMarginLeft = 58, kMarginRight = 14, kMarginTop = 26, kMarginBottom = 46;
constexpr int kFigureTitle = 30, kCaption = 22;

// Width of `text` at `size` px in a sans-serif font, roughly (for layout only).
double TextWidth(const std::string& text, double size) {
  size_t chars = 0;
  for (unsigned char c : text) chars += (c & 0xC0) != 0x80;  // UTF-8 code points
  return static_cast<double>(chars) * size * 0.6;
}

std::string Text(double x, double y, const std::string& text, double size, const char* anchor,
                 const std::string& extra = "") {
  return absl::StrFormat("<text x=\"%.1f\" y=\"%.1f\" font-size=\"%g\" text-anchor=\"%s\" %s%s>%s</text>\n", x, y,
                         size, anchor, kFont, extra, XmlEscape(text));
}

std::string Color(const Series& s, size_t index) {
  if (s.black) return "#000000";
  return kPalette[(s.color >= 0 ? static_cast<size_t>(s.color) : index) % 8];
}

struct Limits {
  double xmin, xmax, ymin, ymax;
};

Limits DataLimits(const Axes& a) {
  double xlo = std::numeric_limits<double>::infinity(), xhi = -xlo, ylo = xlo, yhi = -xlo;
  bool bars = false;
  for (const auto& s : a.series) {
    bars = bars || s.bars;
    for (size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
      if (!std::isfinite(s.x[i]) || !std::isfinite(s.y[i])) continue;
      xlo = std::min(xlo, s.x[i]), xhi = std::max(xhi, s.x[i]);
      ylo = std::min(ylo, s.y[i]), yhi = std::max(yhi, s.y[i]);
      if (i < s.y_low.size() && std::isfinite(s.y_low[i])) ylo = std::min(ylo, s.y_low[i]);
      if (i < s.y_high.size() && std::isfinite(s.y_high[i])) yhi = std::max(yhi, s.y_high[i]);
    }
  }
  for (const auto& r : a.references) {
    xlo = std::min({xlo, r.x0, r.x1}), xhi = std::max({xhi, r.x0, r.x1});
    ylo = std::min({ylo, r.y0, r.y1}), yhi = std::max({yhi, r.y0, r.y1});
  }
  if (!a.categories.empty()) xlo = -0.5, xhi = static_cast<double>(a.categories.size()) - 0.5;
  if (bars) ylo = std::min(ylo, 0.0), yhi = std::max(yhi, 0.0);
  if (!std::isfinite(xlo)) xlo = 0, xhi = 1;
  if (!std::isfinite(ylo)) ylo = 0, yhi = 1;
  if (xhi <= xlo) xlo -= 0.5, xhi += 0.5;
  if (yhi <= ylo) ylo -= 0.5, yhi += 0.5;
  const double pad = 0.05 * (yhi - ylo);
  Limits l{xlo, xhi, bars && ylo == 0 ? 0.0 : ylo - pad, yhi + pad};
  if (a.xmax > a.xmin) l.xmin = a.xmin, l.xmax = a.xmax;
  if (a.ymax > a.ymin) l.ymin = a.ymin, l.ymax = a.ymax;
  return l;
}

// One panel whose plot area starts at (left, top).
class PanelWriter {
 public:
  PanelWriter(const Axes& a, double left, double top, double w, double h)
      : a_(a), left_(left), top_(top), w_(w), h_(h), l_(DataLimits(a)) {}

  std::string Write() {
    std::string out;
    Grid(&out);
    for (const auto& r : a_.references) {
      absl::StrAppend(&out, absl::StrFormat("<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#888888\" "
                                            "stroke-width=\"1\" stroke-dasharray=\"4 3\"/>\n",
                                            X(r.x0), Y(r.y0), X(r.x1), Y(r.y1)));
    }
    int bar_series = 0, bar_index = 0, interval_series = 0, interval_index = 0;
    for (const auto& s : a_.series) bar_series += s.bars, interval_series += !s.bars && !s.y_low.empty();
    for (size_t k = 0; k < a_.series.size(); ++k) {
      const Series& s = a_.series[k];
      if (s.bars) {
        Bars(s, Color(s, k), bar_index++, bar_series, &out);
      } else {
        // Error bars of several series at one x are set apart a few pixels.
        const double dodge = s.y_low.empty() ? 0 : 4.0 * (interval_index++ - (interval_series - 1) / 2.0);
        Lines(s, Color(s, k), dodge, &out);
      }
    }
    absl::StrAppend(&out, absl::StrFormat("<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" "
                                          "stroke=\"#000000\" stroke-width=\"1\"/>\n",
                                          left_, top_, w_, h_));
    Labels(&out);
    Legend(&out);
    return out;
  }

 private:
  double X(double x) const { return left_ + (std::clamp(x, l_.xmin, l_.xmax) - l_.xmin) / (l_.xmax - l_.xmin) * w_; }
  double Y(double y) const { return top_ + h_ - (std::clamp(y, l_.ymin, l_.ymax) - l_.ymin) / (l_.ymax - l_.ymin) * h_; }

  void Grid(std::string* out) const {
    const std::vector<double> yt = NiceTicks(l_.ymin, l_.ymax, 5);
    const double ystep = yt.size() > 1 ? yt[1] - yt[0] : 1;
    for (double t : yt) {
      absl::StrAppend(out, absl::StrFormat("<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#e3e3e3\" "
                                           "stroke-width=\"1\"/>\n",
                                           left_, Y(t), left_ + w_, Y(t)));
      absl::StrAppend(out, Text(left_ - 5, Y(t) + 4, TickLabel(t, ystep), 11, "end"));
    }
    if (!a_.categories.empty()) {
      const double slot = w_ / static_cast<double>(a_.categories.size());
      const size_t fit = static_cast<size_t>(std::max(4.0, slot / 6.6));
      for (size_t i = 0; i < a_.categories.size(); ++i) {
        absl::StrAppend(out, Text(X(static_cast<double>(i)), top_ + h_ + 15, Abbreviate(a_.categories[i], fit), 11,
                                  "middle", absl::StrCat("data-full=\"", XmlEscape(a_.categories[i]), "\" ")));
      }
      return;
    }
    const std::vector<double> xt = NiceTicks(l_.xmin, l_.xmax, std::max(3, static_cast<int>(w_ / 70)));
    const double xstep = xt.size() > 1 ? xt[1] - xt[0] : 1;
    for (double t : xt) {
      absl::StrAppend(out, absl::StrFormat("<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#000000\" "
                                           "stroke-width=\"1\"/>\n",
                                           X(t), top_ + h_, X(t), top_ + h_ + 4));
      absl::StrAppend(out, Text(X(t), top_ + h_ + 16, TickLabel(t, xstep), 11, "middle"));
    }
  }

  void Lines(const Series& s, const std::string& color, double dodge, std::string* out) const {
    std::string points;
    auto flush = [&] {
      if (points.empty()) return;
      absl::StrAppend(out, "<polyline fill=\"none\" stroke=\"", color, "\" stroke-width=\"", absl::StrFormat("%g", s.width),
                      "\"", s.dashed ? " stroke-dasharray=\"6 3\"" : "", " stroke-linejoin=\"round\" points=\"",
                      points, "\"/>\n");
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
      ErrorBar(s, i, color, X(s.x[i]) + dodge, out);
      if (s.markers) {
        absl::StrAppend(out, absl::StrFormat("<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"/>\n",
                                             X(s.x[i]) + dodge, Y(s.y[i]), color));
      }
    }
  }

  void ErrorBar(const Series& s, size_t i, const std::string& color, double px, std::string* out) const {
    if (i >= s.y_low.size() || i >= s.y_high.size() || !std::isfinite(s.y_low[i]) || !std::isfinite(s.y_high[i])) return;
    absl::StrAppend(out, absl::StrFormat("<path d=\"M%.1f %.1fV%.1fM%.1f %.1fH%.1fM%.1f %.1fH%.1f\" stroke=\"%s\" "
                                         "stroke-width=\"1\" fill=\"none\"/>\n",
                                         px, Y(s.y_low[i]), Y(s.y_high[i]), px - 3, Y(s.y_low[i]), px + 3, px - 3,
                                         Y(s.y_high[i]), px + 3, color));
  }

  void Bars(const Series& s, const std::string& color, int index, int count, std::string* out) const {
    const double slot = w_ / std::max(1.0, l_.xmax - l_.xmin), width = 0.7 * slot / count;
    for (size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
      if (!std::isfinite(s.y[i])) continue;
      const double cx = X(s.x[i]) - 0.35 * slot + (index + 0.5) * width;
      const double y0 = Y(0), y1 = Y(s.y[i]);
      absl::StrAppend(out, absl::StrFormat("<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\"/>\n",
                                           cx - width / 2, std::min(y0, y1), width, std::abs(y1 - y0), color));
      absl::StrAppend(out, Text(cx, std::min(y0, y1) - 3, absl::StrFormat("%.3g", s.y[i]), 10, "middle"));
      ErrorBar(s, i, "#000000", cx, out);
    }
  }

  void Labels(std::string* out) const {
    if (!a_.title.empty()) {
      absl::StrAppend(out, Text(left_ + w_ / 2, top_ - 9, Abbreviate(a_.title, static_cast<size_t>(w_ / 7.2)), 13,
                                "middle", absl::StrCat("font-weight=\"bold\" data-full=\"", XmlEscape(a_.title), "\" ")));
    }
    if (!a_.xlabel.empty()) absl::StrAppend(out, Text(left_ + w_ / 2, top_ + h_ + 36, a_.xlabel, 12, "middle"));
    if (!a_.ylabel.empty()) {
      const double x = left_ - 44, y = top_ + h_ / 2;
      absl::StrAppend(out, Text(x, y, a_.ylabel, 12, "middle",
                                absl::StrFormat("transform=\"rotate(-90 %.1f %.1f)\" ", x, y)));
    }
  }

  void Legend(std::string* out) const {
    std::vector<std::pair<std::string, std::string>> entries;  // (label, swatch markup at 0,0)
    for (size_t k = 0; k < a_.series.size(); ++k) {
      const Series& s = a_.series[k];
      if (s.label.empty()) continue;
      const std::string c = Color(s, k);
      entries.emplace_back(s.label, s.bars ? absl::StrCat("<rect x=\"0\" y=\"-5\" width=\"18\" height=\"9\" fill=\"", c, "\"/>")
                                           : absl::StrCat("<line x1=\"0\" y1=\"0\" x2=\"18\" y2=\"0\" stroke=\"", c,
                                                          "\" stroke-width=\"", absl::StrFormat("%g", std::max(2.0, s.width)),
                                                          "\"", s.dashed ? " stroke-dasharray=\"6 3\"" : "", "/>"));
    }
    for (const auto& r : a_.references) {
      if (!r.label.empty()) {
        entries.emplace_back(r.label, "<line x1=\"0\" y1=\"0\" x2=\"18\" y2=\"0\" stroke=\"#888888\" stroke-width=\"1\" "
                                      "stroke-dasharray=\"4 3\"/>");
      }
    }
    if (entries.empty() || a_.legend == "none") return;
    double width = 0;
    for (const auto& e : entries) width = std::max(width, TextWidth(e.first, 11));
    width += 34;
    const double height = 16.0 * entries.size() + 6;
    const bool right = a_.legend.find("right") != std::string::npos, upper = a_.legend.find("upper") != std::string::npos;
    const double x = right ? left_ + w_ - width - 6 : left_ + 6, y = upper ? top_ + 6 : top_ + h_ - height - 6;
    absl::StrAppend(out, "<g class=\"legend\">\n", absl::StrFormat("<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
                                                                   "height=\"%.1f\" fill=\"#ffffff\" fill-opacity=\"0.85\" "
                                                                   "stroke=\"#bbbbbb\"/>\n",
                                                                   x, y, width, height));
    for (size_t i = 0; i < entries.size(); ++i) {
      const double ey = y + 13 + 16.0 * i;
      absl::StrAppend(out, absl::StrFormat("<g transform=\"translate(%.1f %.1f)\">", x + 6, ey - 4), entries[i].second,
                      "</g>\n", Text(x + 28, ey, entries[i].first, 11, "start"));
    }
    absl::StrAppend(out, "</g>\n");
  }

  const Axes& a_;
  double left_, top_, w_, h_;
  Limits l_;
};

}  // namespace

std::vector<double> NiceTicks(double lo, double hi, int target) {
  if (!std::isfinite(lo) || !std::isfinite(hi) || hi <= lo || target < 1) return {};
  // The smallest round step giving at most target + 1 intervals.
  const double raw = (hi - lo) / (target + 1), mag = std::pow(10.0, std::floor(std::log10(raw)));
  double step = mag;
  for (double m : {1.0, 2.0, 2.5, 5.0, 10.0}) {
    step = m * mag;
    if (step >= raw) break;
  }
  std::vector<double> out;
  for (double t = std::ceil(lo / step - 1e-9) * step; t <= hi + 1e-9 * step; t += step) {
    out.push_back(std::abs(t) < 1e-12 * step ? 0.0 : t);
  }
  return out;
}

std::string TickLabel(double value, double step) {
  if (std::abs(value) >= 1e5 || (std::abs(value) > 0 && std::abs(value) < 1e-4)) return absl::StrFormat("%.3g", value);
  int decimals = 0;
  while (decimals < 6 && std::abs(step * std::pow(10.0, decimals) - std::round(step * std::pow(10.0, decimals))) > 1e-6) {
    ++decimals;
  }
  return absl::StrFormat("%.*f", decimals, value);
}

std::string Abbreviate(const std::string& label, size_t max_chars) {
  auto chars = [](const std::string& s) {
    size_t n = 0;
    for (unsigned char c : s) n += (c & 0xC0) != 0x80;
    return n;
  };
  if (chars(label) <= max_chars || max_chars < 4) return label;
  const std::string ellipsis = "\xE2\x80\xA6";  // …
  // A '+'-joined list keeps its first and last members: "A+B+…+Z".
  std::vector<std::string> parts = absl::StrSplit(label, '+');
  if (parts.size() > 2) {
    std::string head = parts[0];
    for (size_t k = 1; k + 1 < parts.size(); ++k) {
      const std::string longer = absl::StrCat(head, "+", parts[k]);
      if (chars(longer) + chars(parts.back()) + 3 > max_chars) break;
      head = longer;
    }
    const std::string out = absl::StrCat(head, "+", ellipsis, "+", parts.back());
    if (chars(out) <= max_chars) return out;
  }
  // Otherwise the head and the tail around an ellipsis, cut on code points.
  auto cut_head = [](const std::string& s, size_t n) {
    size_t seen = 0, i = 0;
    for (; i < s.size(); ++i) {
      if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80 && seen++ == n) break;
    }
    return s.substr(0, i);
  };
  const size_t keep = max_chars - 1, head = (keep + 1) / 2, tail = keep - head;
  const std::string h = cut_head(label, head);
  const size_t total = chars(label);
  std::string t = label;
  for (size_t skip = total - tail; skip > 0;) {  // drop code points from the front
    size_t i = 1;
    while (i < t.size() && (static_cast<unsigned char>(t[i]) & 0xC0) == 0x80) ++i;
    t = t.substr(i);
    --skip;
  }
  return absl::StrCat(h, ellipsis, t);
}

std::string XmlEscape(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default:
        if (static_cast<unsigned char>(c) >= 0x20 || c == '\n' || c == '\t') out += c;
    }
  }
  return out;
}

std::string RenderSvg(const Figure& f) {
  const int n = static_cast<int>(f.panels.size());
  const int columns = std::max(1, f.columns > 0 ? std::min(f.columns, std::max(1, n)) : std::min(std::max(1, n), 4));
  const int rows = std::max(1, (n + columns - 1) / columns);
  const int cell_w = kMarginLeft + f.panel_width + kMarginRight, cell_h = kMarginTop + f.panel_height + kMarginBottom;
  const int top = f.title.empty() ? 4 : kFigureTitle;
  const int width = columns * cell_w, height = top + rows * cell_h + (f.caption.empty() ? 0 : kCaption);
  std::string out = absl::StrFormat(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\">\n"
      "<rect width=\"100%%\" height=\"100%%\" fill=\"#ffffff\"/>\n",
      width, height, width, height);
  if (!f.title.empty()) {
    absl::StrAppend(&out, "<title>", XmlEscape(f.title), "</title>\n",
                    Text(width / 2.0, 20, f.title, 15, "middle", "font-weight=\"bold\" "));
  }
  for (int i = 0; i < n; ++i) {
    const double left = (i % columns) * cell_w + kMarginLeft, ptop = top + (i / columns) * cell_h + kMarginTop;
    absl::StrAppend(&out, "<g class=\"panel\">\n",
                    PanelWriter(f.panels[i], left, ptop, f.panel_width, f.panel_height).Write(), "</g>\n");
  }
  if (!f.caption.empty()) absl::StrAppend(&out, Text(8, height - 7, f.caption, 11, "start", "fill=\"#444444\" "));
  absl::StrAppend(&out, "</svg>\n");
  return out;
}

std::string RenderImageSvg(const std::string& title, const std::string& png, int width, int height,
                           const std::vector<std::pair<std::string, std::string>>& key, const std::string& caption) {
  const int shown_w = std::max(width, 320), top = kFigureTitle, key_h = 22;
  const int total_h = top + height + key_h + (caption.empty() ? 0 : kCaption);
  std::string out = absl::StrFormat(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\">\n"
      "<rect width=\"100%%\" height=\"100%%\" fill=\"#ffffff\"/>\n<title>%s</title>\n",
      shown_w, total_h, shown_w, total_h, XmlEscape(title));
  absl::StrAppend(&out, Text(shown_w / 2.0, 20, title, 15, "middle", "font-weight=\"bold\" "),
                  absl::StrFormat("<image x=\"0\" y=\"%d\" width=\"%d\" height=\"%d\" href=\"data:image/png;base64,", top,
                                  width, height),
                  absl::Base64Escape(png), "\"/>\n");
  double x = 8;
  const double y = top + height + 15;
  for (const auto& [label, colour] : key) {
    absl::StrAppend(&out, absl::StrFormat("<rect x=\"%.1f\" y=\"%.1f\" width=\"14\" height=\"10\" fill=\"%s\"/>\n", x,
                                          y - 9, XmlEscape(colour)),
                    Text(x + 18, y, label, 11, "start"));
    x += 30 + TextWidth(label, 11);
  }
  if (!caption.empty()) absl::StrAppend(&out, Text(8, total_h - 7, caption, 11, "start", "fill=\"#444444\" "));
  absl::StrAppend(&out, "</svg>\n");
  return out;
}

}  // namespace chexworld
