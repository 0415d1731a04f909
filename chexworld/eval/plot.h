// Minimal raster plots for reports (no fonts: panels, axes, grid lines and
// coloured series; the markdown next to a PNG says what its axes are).
// Torch-free.
#ifndef CHEXWORLD_EVAL_PLOT_H_
#define CHEXWORLD_EVAL_PLOT_H_

#include <cstdint>
#include <utility>
#include <vector>

namespace chexworld {

class Canvas {
 public:
  Canvas(int width, int height);  // white
  int width() const { return width_; }
  int height() const { return height_; }
  void Pixel(int x, int y, const uint8_t* rgb);
  // A line between pixel positions, `thickness` pixels wide.
  void Line(double x0, double y0, double x1, double y1, const uint8_t* rgb, int thickness = 2);
  const std::vector<uint8_t>& rgb() const { return rgb_; }

 private:
  int width_, height_;
  std::vector<uint8_t> rgb_;
};

// A rectangle of the canvas mapping data coordinates to pixels.
struct Panel {
  int left = 0, top = 0, width = 0, height = 0;
  double xmin = 0, xmax = 1, ymin = 0, ymax = 1;
  void Axes(Canvas& c) const;                        // frame
  void HorizontalGrid(Canvas& c, double y) const;    // a light line at data y
  void Line(Canvas& c, double x0, double y0, double x1, double y1, const uint8_t* rgb) const;
  void Marker(Canvas& c, double x, double y, const uint8_t* rgb) const;
};

// Series colours in order: red, blue, green, orange, purple, brown.
const uint8_t* SeriesColor(int index);
const char* SeriesColorName(int index);

}  // namespace chexworld

#endif  // CHEXWORLD_EVAL_PLOT_H_
