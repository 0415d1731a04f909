// Whole figures: panels on a grid under a title, a caption; an image under a
// title with a colour key. The writer is svg_writer.h; placement is
// figure_layout.cc; a panel's drawing is figure_panel.cc.
#include "chexworld/eval/figure.h"

#include <algorithm>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "chexworld/eval/figure_layout.h"
#include "chexworld/eval/svg_writer.h"

namespace chexworld {
namespace {

using figure_internal::Num;
using figure_internal::TextAttributes;
using figure_internal::TextWidth;

constexpr int kMarginLeft = 58, kMarginRight = 14, kMarginTop = 26, kMarginBottom = 46;
constexpr int kFigureTitle = 30, kCaption = 22;

void OpenSvg(SvgWriter& w, double width, double height, const std::string& title) {
  w.Open("svg", {{"xmlns", "http://www.w3.org/2000/svg"},
                 {"width", absl::StrCat(static_cast<int>(width))},
                 {"height", absl::StrCat(static_cast<int>(height))},
                 {"viewBox", absl::StrFormat("0 0 %d %d", static_cast<int>(width), static_cast<int>(height))},
                 {"role", "img"}});
  w.Leaf("rect", {{"width", "100%"}, {"height", "100%"}, {"fill", "#ffffff"}});
  if (!title.empty()) {
    w.Text("title", {}, title);
    w.Text("text", TextAttributes(width / 2.0, 20, 15, "middle", {{"font-weight", "bold"}}), title);
  }
}

}  // namespace

std::string XmlEscape(const std::string& text) {
  std::string out;
  for (char c : XmlCharacters(text)) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string RenderSvg(const Figure& f) {
  const int n = static_cast<int>(f.panels.size());
  const int columns = std::max(1, f.columns > 0 ? std::min(f.columns, std::max(1, n)) : std::min(std::max(1, n), 4));
  const int rows = std::max(1, (n + columns - 1) / columns);
  // Room for legends beside their panel, the same in every cell.
  double beside = 0;
  for (const Axes& a : f.panels) {
    beside = std::max(beside, figure_internal::OutsideLegendWidth(a, f.panel_width, f.panel_height));
  }
  const double cell_w = kMarginLeft + f.panel_width + kMarginRight + beside;
  const double cell_h = kMarginTop + f.panel_height + kMarginBottom;
  const double top = f.title.empty() ? 4 : kFigureTitle;
  const double width = columns * cell_w, height = top + rows * cell_h + (f.caption.empty() ? 0 : kCaption);
  SvgWriter w;
  OpenSvg(w, width, height, f.title);
  for (int i = 0; i < n; ++i) {
    const double left = (i % columns) * cell_w + kMarginLeft, ptop = top + (i / columns) * cell_h + kMarginTop;
    figure_internal::WritePanel(w, f.panels[i], left, ptop, f.panel_width, f.panel_height);
  }
  if (!f.caption.empty()) {
    w.Text("text", TextAttributes(8, height - 7, 11, "start", {{"fill", "#444444"}}), f.caption);
  }
  return w.Finish();
}

std::string RenderImageSvg(const std::string& title, const std::string& png, int width, int height,
                           const std::vector<std::pair<std::string, std::string>>& key, const std::string& caption) {
  const int shown_w = std::max(width, 320), top = kFigureTitle, key_h = 22;
  const int total_h = top + height + key_h + (caption.empty() ? 0 : kCaption);
  SvgWriter w;
  OpenSvg(w, shown_w, total_h, title);
  w.Leaf("image", {{"x", "0"}, {"y", absl::StrCat(top)}, {"width", absl::StrCat(width)}, {"height", absl::StrCat(height)},
                   {"href", absl::StrCat("data:image/png;base64,", absl::Base64Escape(png))}});
  double x = 8;
  const double y = top + height + 15;
  for (const auto& [label, colour] : key) {
    w.Leaf("rect", {{"x", Num(x)}, {"y", Num(y - 9)}, {"width", "14"}, {"height", "10"}, {"fill", colour}});
    w.Text("text", TextAttributes(x + 18, y, 11, "start"), label);
    x += 30 + TextWidth(label, 11);
  }
  if (!caption.empty()) w.Text("text", TextAttributes(8, total_h - 7, 11, "start", {{"fill", "#444444"}}), caption);
  return w.Finish();
}

}  // namespace chexworld
