// Report figures as SVG with real text: every panel has a title, axis labels,
// tick labels and a legend, so a figure read on its own (in report.html, on a
// code host that renders markdown, or converted to PDF for a paper:
// `report --pdf`, rsvg-convert) says what it shows. Text stays text:
// searchable, selectable and sharp at any size. Written through libxml2's XML
// writer (svg_writer.h): well-formed by construction. Torch-free; no fonts or
// plotting library needed at build or run time.
//
// Panels show their data: the plot area has a margin around the axis limits,
// so no point or error bar sits on the frame; the ticks reach the data's
// extremes (a few distinct x values, such as shift strengths, are each a
// tick); the legend goes to the corner it covers least data in, or beside the
// panel when every corner has data.
//
//   Figure f{"Training loss"};
//   Axes& a = f.AddPanel("", "micro-batch", "loss");
//   a.series.push_back(Series{"loss (total)", xs, ys});
//   std::string svg = RenderSvg(f);
#ifndef CHEXWORLD_EVAL_FIGURE_H_
#define CHEXWORLD_EVAL_FIGURE_H_

#include <string>
#include <utility>
#include <vector>

namespace chexworld {

struct Series {
  std::string label;  // legend entry; "" = not in the legend
  std::vector<double> x, y;
  // Optional interval per point (same length as y): drawn as error bars.
  std::vector<double> y_low, y_high;
  // Palette index (blue, orange, green, red, purple, brown, pink, grey); -1 =
  // the series' position in its panel.
  int color = -1;
  bool black = false;     // drawn in black (a total over coloured parts)
  double width = 1.6;     // stroke width in pixels
  bool dashed = false;
  bool markers = false;   // a dot at every point
  bool line = true;       // joined by a line (false: markers and error bars only)
  bool bars = false;      // a bar per point (categorical x: 0, 1, 2, ...)
};

// A reference line from (x0, y0) to (x1, y1) in data coordinates, grey and
// dashed, with an optional label in the legend (the ROC chance diagonal).
struct ReferenceLine {
  double x0 = 0, y0 = 0, x1 = 1, y1 = 1;
  std::string label;
};

struct Axes {
  std::string title, xlabel, ylabel;
  // Data limits; when min >= max they are taken from the data (with a margin).
  double xmin = 0, xmax = 0, ymin = 0, ymax = 0;
  // Categorical x: tick labels at x = 0, 1, 2, ... (bar charts).
  std::vector<std::string> categories;
  std::vector<Series> series;
  std::vector<ReferenceLine> references;
  // "auto" (the corner with the least data under it, else beside the panel),
  // "lower right", "upper right", "lower left", "upper left", "outside" or
  // "none".
  std::string legend = "auto";
};

struct Figure {
  std::string title;
  int columns = 0;            // panels per row; 0 = all in one row up to 4
  int panel_width = 300;      // plot area of one panel, pixels
  int panel_height = 220;
  std::vector<Axes> panels;
  // An optional line of small text under the figure (what the intervals are).
  std::string caption;

  Axes& AddPanel(const std::string& panel_title, const std::string& xlabel, const std::string& ylabel) {
    panels.push_back(Axes{});
    panels.back().title = panel_title;
    panels.back().xlabel = xlabel;
    panels.back().ylabel = ylabel;
    return panels.back();
  }
};

// An image (PNG bytes, width x height pixels, e.g. a strip of segmentation
// overlays) under a title, with a colour key of (label, "#rrggbb") swatches
// and a caption.
std::string RenderImageSvg(const std::string& title, const std::string& png, int width, int height,
                           const std::vector<std::pair<std::string, std::string>>& key, const std::string& caption);

// The figure as a standalone SVG document (no ids, so several can be inlined
// into one HTML page).
std::string RenderSvg(const Figure& figure);

// About `target` round tick values covering [lo, hi] (steps 1, 2, 2.5 or 5
// times a power of ten), and the label of one of them at that step.
std::vector<double> NiceTicks(double lo, double hi, int target = 5);
std::string TickLabel(double value, double step);

// `label` shortened to at most `max_chars` characters with an ellipsis in the
// middle ("Atelectasis+Cardiomegaly+…+Hernia" style), or unchanged.
std::string Abbreviate(const std::string& label, size_t max_chars);

// Text escaped for XML/HTML content and attributes.
std::string XmlEscape(const std::string& text);

}  // namespace chexworld

#endif  // CHEXWORLD_EVAL_FIGURE_H_
