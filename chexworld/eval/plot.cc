#include "chexworld/eval/plot.h"

#include <algorithm>
#include <cmath>

namespace chexworld {
namespace {

constexpr uint8_t kColors[6][3] = {{214, 39, 40}, {31, 119, 180}, {44, 160, 44}, {255, 127, 14}, {148, 103, 189}, {140, 86, 75}};
constexpr const char* kColorNames[6] = {"red", "blue", "green", "orange", "purple", "brown"};
constexpr uint8_t kBlack[3] = {0, 0, 0}, kGrid[3] = {215, 215, 215};

}  // namespace

Canvas::Canvas(int width, int height)
    : width_(width), height_(height), rgb_(static_cast<size_t>(width) * height * 3, 255) {}

void Canvas::Pixel(int x, int y, const uint8_t* c) {
  if (x < 0 || y < 0 || x >= width_ || y >= height_) return;
  for (int k = 0; k < 3; ++k) rgb_[(static_cast<size_t>(y) * width_ + x) * 3 + k] = c[k];
}

void Canvas::Line(double x0, double y0, double x1, double y1, const uint8_t* c, int thickness) {
  const int steps = static_cast<int>(std::max(std::abs(x1 - x0), std::abs(y1 - y0))) + 1;
  for (int i = 0; i <= steps; ++i) {
    const double t = static_cast<double>(i) / steps;
    const int x = static_cast<int>(std::lround(x0 + t * (x1 - x0))), y = static_cast<int>(std::lround(y0 + t * (y1 - y0)));
    for (int dx = 0; dx < thickness; ++dx)
      for (int dy = 0; dy < thickness; ++dy) Pixel(x + dx, y + dy, c);
  }
}

void Panel::Axes(Canvas& c) const {
  c.Line(left, top, left + width, top, kBlack, 1);
  c.Line(left, top + height, left + width, top + height, kBlack, 1);
  c.Line(left, top, left, top + height, kBlack, 1);
  c.Line(left + width, top, left + width, top + height, kBlack, 1);
}

void Panel::HorizontalGrid(Canvas& c, double y) const {
  const double py = top + height - (y - ymin) / (ymax - ymin) * height;
  c.Line(left, py, left + width, py, kGrid, 1);
}

void Panel::Line(Canvas& c, double x0, double y0, double x1, double y1, const uint8_t* rgb) const {
  auto px = [&](double x) { return left + (x - xmin) / std::max(1e-12, xmax - xmin) * width; };
  auto py = [&](double y) { return top + height - (std::clamp(y, ymin, ymax) - ymin) / (ymax - ymin) * height; };
  c.Line(px(x0), py(y0), px(x1), py(y1), rgb, 2);
}

void Panel::Marker(Canvas& c, double x, double y, const uint8_t* rgb) const {
  const double cx = left + (x - xmin) / std::max(1e-12, xmax - xmin) * width;
  const double cy = top + height - (std::clamp(y, ymin, ymax) - ymin) / (ymax - ymin) * height;
  for (int dx = -2; dx <= 2; ++dx)
    for (int dy = -2; dy <= 2; ++dy) c.Pixel(static_cast<int>(cx) + dx, static_cast<int>(cy) + dy, rgb);
}

const uint8_t* SeriesColor(int i) { return kColors[i % 6]; }
const char* SeriesColorName(int i) { return kColorNames[i % 6]; }

}  // namespace chexworld
