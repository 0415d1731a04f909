// The parts of figure.cc's rendering that decide where things go: data
// limits with margins, ticks, text widths, legend placement. Internal to
// //chexworld/eval:figure.
#ifndef CHEXWORLD_EVAL_FIGURE_LAYOUT_H_
#define CHEXWORLD_EVAL_FIGURE_LAYOUT_H_

#include <string>
#include <vector>

#include "chexworld/eval/figure.h"
#include "chexworld/eval/svg_writer.h"

namespace chexworld {
namespace figure_internal {

// The axis range a panel shows: ticks span [lo, hi]; the plot area maps the
// wider [view_lo, view_hi] (a margin on each side, so nothing sits on the frame).
struct Range {
  double lo = 0, hi = 1, view_lo = 0, view_hi = 1;
  std::vector<double> ticks;
  double step = 1;  // between ticks, for their labels
};
Range XRange(const Axes& a, double pixels);
Range YRange(const Axes& a);

// Width of `text` at `size` px in a sans-serif font, roughly (for layout only).
double TextWidth(const std::string& text, double size);

// The legend's entries, size and place.
struct LegendBox {
  std::vector<const Series*> series;
  std::vector<const ReferenceLine*> references;
  double width = 0, height = 0;
  bool outside = false;  // beside the plot area, right of it
  double x = 0, y = 0;   // top-left corner, in figure pixels (inside placement)
};
LegendBox PlaceLegend(const Axes& a, double left, double top, double w, double h, const Range& xr, const Range& yr);
// Room a panel needs on its right for a legend beside it (0 when inside).
double OutsideLegendWidth(const Axes& a, double w, double h);

// Draws one panel whose plot area starts at (left, top) (figure_panel.cc).
void WritePanel(SvgWriter& out, const Axes& a, double left, double top, double w, double h);

// Number formatting for attributes.
std::string Num(double v);

// The font attributes every text element carries.
Attributes TextAttributes(double x, double y, double size, const char* anchor, Attributes extra = {});

}  // namespace figure_internal
}  // namespace chexworld

#endif  // CHEXWORLD_EVAL_FIGURE_LAYOUT_H_
