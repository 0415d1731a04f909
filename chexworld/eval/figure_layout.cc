// Axes, ticks and legend placement for figure.cc.
#include "chexworld/eval/figure_layout.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"

namespace chexworld {

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
  if (step <= 0) return absl::StrFormat("%g", value);  // ticks at data values
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
  std::string t = label;
  for (size_t skip = chars(label) - tail; skip > 0; --skip) {  // drop code points from the front
    size_t i = 1;
    while (i < t.size() && (static_cast<unsigned char>(t[i]) & 0xC0) == 0x80) ++i;
    t = t.substr(i);
  }
  return absl::StrCat(h, ellipsis, t);
}

namespace figure_internal {
namespace {

constexpr double kMargin = 0.04;  // of the range, on each side of the plot area
constexpr int kMaxDataTicks = 8;  // at most this many distinct x values: a tick at each

// The range [lo, hi] widened to round ticks (the first at or below lo, the
// last at or above hi), then the margin.
Range Nice(double lo, double hi, int target, bool exact) {
  Range r;
  if (!std::isfinite(lo) || !std::isfinite(hi)) lo = 0, hi = 1;
  if (hi <= lo) lo -= 0.5, hi += 0.5;
  std::vector<double> t = NiceTicks(lo, hi, target);
  r.step = t.size() > 1 ? t[1] - t[0] : (hi - lo);
  if (!exact && r.step > 0) {
    lo = std::floor(lo / r.step + 1e-9) * r.step;
    hi = std::ceil(hi / r.step - 1e-9) * r.step;
    t = NiceTicks(lo, hi, target);
  }
  r.lo = lo, r.hi = hi, r.ticks = t;
  r.view_lo = lo - kMargin * (hi - lo);
  r.view_hi = hi + kMargin * (hi - lo);
  return r;
}

}  // namespace

Range XRange(const Axes& a, double pixels) {
  if (!a.categories.empty()) {
    Range r;
    r.lo = r.view_lo = -0.5;
    r.hi = r.view_hi = static_cast<double>(a.categories.size()) - 0.5;
    for (size_t i = 0; i < a.categories.size(); ++i) r.ticks.push_back(static_cast<double>(i));
    return r;
  }
  const int target = std::max(3, static_cast<int>(pixels / 70));
  if (a.xmax > a.xmin) return Nice(a.xmin, a.xmax, target, /*exact=*/true);
  std::set<double> xs;
  for (const auto& s : a.series) {
    for (size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
      if (std::isfinite(s.x[i]) && std::isfinite(s.y[i])) xs.insert(s.x[i]);
    }
  }
  for (const auto& r : a.references) xs.insert(r.x0), xs.insert(r.x1);
  if (xs.empty()) return Nice(0, 1, target, true);
  if (xs.size() >= 2 && xs.size() <= kMaxDataTicks) {
    Range r = Nice(*xs.begin(), *xs.rbegin(), target, /*exact=*/true);
    r.ticks.assign(xs.begin(), xs.end());
    r.step = 0;  // labels as the values themselves
    return r;
  }
  return Nice(*xs.begin(), *xs.rbegin(), target, /*exact=*/false);
}

Range YRange(const Axes& a) {
  if (a.ymax > a.ymin) return Nice(a.ymin, a.ymax, 5, /*exact=*/true);
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  bool bars = false;
  auto take = [&](double v) {
    if (std::isfinite(v)) lo = std::min(lo, v), hi = std::max(hi, v);
  };
  for (const auto& s : a.series) {
    bars = bars || s.bars;
    for (size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
      if (!std::isfinite(s.x[i])) continue;
      take(s.y[i]);
      if (i < s.y_low.size()) take(s.y_low[i]);
      if (i < s.y_high.size()) take(s.y_high[i]);
    }
  }
  for (const auto& r : a.references) take(r.y0), take(r.y1);
  if (bars) take(0.0);
  return Nice(lo, hi, 5, /*exact=*/false);
}

double TextWidth(const std::string& text, double size) {
  size_t chars = 0;
  for (unsigned char c : text) chars += (c & 0xC0) != 0x80;  // UTF-8 code points
  return static_cast<double>(chars) * size * 0.6;
}

std::string Num(double v) { return absl::StrFormat("%.1f", v); }

Attributes TextAttributes(double x, double y, double size, const char* anchor, Attributes extra) {
  Attributes a = {{"x", Num(x)},
                  {"y", Num(y)},
                  {"font-size", absl::StrFormat("%g", size)},
                  {"text-anchor", anchor},
                  {"font-family", "DejaVu Sans, Arial, Helvetica, sans-serif"}};
  a.insert(a.end(), extra.begin(), extra.end());
  return a;
}

namespace {

// Points (in pixels) where the panel draws data: every point, error bar end,
// and points along lines and reference lines.
std::vector<std::pair<double, double>> DataPixels(const Axes& a, double left, double top, double w, double h,
                                                  const Range& xr, const Range& yr) {
  auto px = [&](double x) { return left + (x - xr.view_lo) / (xr.view_hi - xr.view_lo) * w; };
  auto py = [&](double y) { return top + h - (y - yr.view_lo) / (yr.view_hi - yr.view_lo) * h; };
  std::vector<std::pair<double, double>> out;
  auto segment = [&](double x0, double y0, double x1, double y1) {
    for (int k = 0; k <= 8; ++k) {
      const double t = k / 8.0;
      out.emplace_back(px(x0 + t * (x1 - x0)), py(y0 + t * (y1 - y0)));
    }
  };
  for (const auto& s : a.series) {
    for (size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
      if (!std::isfinite(s.x[i]) || !std::isfinite(s.y[i])) continue;
      out.emplace_back(px(s.x[i]), py(s.y[i]));
      if (s.bars) segment(s.x[i], 0.0, s.x[i], s.y[i]);
      if (i < s.y_low.size() && std::isfinite(s.y_low[i])) out.emplace_back(px(s.x[i]), py(s.y_low[i]));
      if (i < s.y_high.size() && std::isfinite(s.y_high[i])) out.emplace_back(px(s.x[i]), py(s.y_high[i]));
      if (!s.bars && s.line && i + 1 < s.x.size() && i + 1 < s.y.size() && std::isfinite(s.x[i + 1]) &&
          std::isfinite(s.y[i + 1])) {
        segment(s.x[i], s.y[i], s.x[i + 1], s.y[i + 1]);
      }
    }
  }
  for (const auto& r : a.references) segment(r.x0, r.y0, r.x1, r.y1);
  return out;
}

}  // namespace

LegendBox PlaceLegend(const Axes& a, double left, double top, double w, double h, const Range& xr, const Range& yr) {
  LegendBox box;
  if (a.legend == "none") return box;
  for (const auto& s : a.series) {
    if (!s.label.empty()) box.series.push_back(&s);
  }
  for (const auto& r : a.references) {
    if (!r.label.empty()) box.references.push_back(&r);
  }
  const size_t n = box.series.size() + box.references.size();
  if (n == 0) return box;
  for (const Series* s : box.series) box.width = std::max(box.width, TextWidth(s->label, 11));
  for (const ReferenceLine* r : box.references) box.width = std::max(box.width, TextWidth(r->label, 11));
  box.width += 34;
  box.height = 16.0 * n + 6;
  if (a.legend == "outside" || box.width > w - 12 || box.height > h - 12) {
    box.outside = true;
    box.x = left + w + 10, box.y = top;
    return box;
  }
  auto corner = [&](const std::string& where) {
    const bool right = where.find("right") != std::string::npos, upper = where.find("upper") != std::string::npos;
    return std::pair<double, double>{right ? left + w - box.width - 6 : left + 6,
                                     upper ? top + 6 : top + h - box.height - 6};
  };
  if (a.legend != "auto") {
    std::tie(box.x, box.y) = corner(a.legend);
    return box;
  }
  const auto pixels = DataPixels(a, left, top, w, h, xr, yr);
  for (const char* where : {"upper right", "upper left", "lower right", "lower left"}) {
    const auto xy = corner(where);  // not a structured binding: clang 14 cannot capture one
    const double x = xy.first, y = xy.second;
    const bool covers = std::any_of(pixels.begin(), pixels.end(), [&](const auto& p) {
      return p.first >= x - 2 && p.first <= x + box.width + 2 && p.second >= y - 2 && p.second <= y + box.height + 2;
    });
    if (!covers) {
      box.x = x, box.y = y;
      return box;
    }
  }
  box.outside = true;
  box.x = left + w + 10, box.y = top;
  return box;
}

double OutsideLegendWidth(const Axes& a, double w, double h) {
  const Range xr = XRange(a, w), yr = YRange(a);
  const LegendBox box = PlaceLegend(a, 0, 0, w, h, xr, yr);
  return box.outside ? box.width + 14 : 0;
}

}  // namespace figure_internal
}  // namespace chexworld
