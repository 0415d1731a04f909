#include "chexworld/data/resize.h"

#include <algorithm>
#include <cmath>

namespace chexworld {
namespace {

double Cubic(double x) {
  constexpr double a = -0.5;
  x = std::abs(x);
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0;
  if (x < 2.0) return (((x - 5.0) * x + 8.0) * x - 4.0) * a;
  return 0.0;
}

// For each output index along one axis: first input index and weights.
struct Taps {
  std::vector<int> first;
  std::vector<int> count;
  std::vector<float> weights;  // out * max_taps
  int max_taps = 0;
};

Taps ComputeTaps(int in_start, int in_size, int out_size, int limit) {
  Taps t;
  const double scale = static_cast<double>(in_size) / out_size;
  const double support = 2.0 * std::max(1.0, scale);
  t.max_taps = static_cast<int>(std::ceil(support)) * 2 + 3;
  t.first.resize(out_size);
  t.count.resize(out_size);
  t.weights.assign(static_cast<size_t>(out_size) * t.max_taps, 0.0f);
  const double filter_scale = std::max(1.0, scale);
  for (int o = 0; o < out_size; ++o) {
    const double center = in_start + (o + 0.5) * scale;
    const int lo = static_cast<int>(std::floor(center - support));
    const int hi = static_cast<int>(std::ceil(center + support));
    double total = 0;
    std::vector<double> w;
    for (int i = lo; i <= hi; ++i) {
      double v = Cubic((i + 0.5 - center) / filter_scale);
      w.push_back(v);
      total += v;
    }
    // Fold taps outside the image onto the edge pixels.
    int n = 0;
    int first = std::clamp(lo, 0, limit - 1), last = std::clamp(hi, 0, limit - 1);
    t.first[o] = first;
    t.count[o] = std::min(last - first + 1, t.max_taps);
    for (int i = lo; i <= hi; ++i, ++n) {
      int idx = std::clamp(i, 0, limit - 1) - first;
      if (idx >= 0 && idx < t.count[o] && total != 0) {
        t.weights[static_cast<size_t>(o) * t.max_taps + idx] += static_cast<float>(w[n] / total);
      }
    }
  }
  return t;
}

}  // namespace

GrayImage CropResize(const GrayImage& src, const Box& box, int out_h, int out_w, bool flip) {
  GrayImage out(out_h, out_w);
  if (src.empty() || box.h <= 0 || box.w <= 0 || out_h <= 0 || out_w <= 0) return out;
  Taps tx = ComputeTaps(box.x, box.w, out_w, src.width);
  Taps ty = ComputeTaps(box.y, box.h, out_h, src.height);
  // Horizontal pass over the rows the vertical taps touch.
  int row_lo = src.height, row_hi = -1;
  for (int o = 0; o < out_h; ++o) {
    row_lo = std::min(row_lo, ty.first[o]);
    row_hi = std::max(row_hi, ty.first[o] + ty.count[o] - 1);
  }
  const int rows = row_hi - row_lo + 1;
  std::vector<float> tmp(static_cast<size_t>(rows) * out_w);
  for (int r = 0; r < rows; ++r) {
    const float* in = &src.pixels[static_cast<size_t>(row_lo + r) * src.width];
    float* dst = &tmp[static_cast<size_t>(r) * out_w];
    for (int o = 0; o < out_w; ++o) {
      const float* w = &tx.weights[static_cast<size_t>(o) * tx.max_taps];
      const float* p = in + tx.first[o];
      float acc = 0;
      for (int k = 0; k < tx.count[o]; ++k) acc += w[k] * p[k];
      dst[flip ? out_w - 1 - o : o] = acc;
    }
  }
  for (int o = 0; o < out_h; ++o) {
    const float* w = &ty.weights[static_cast<size_t>(o) * ty.max_taps];
    float* dst = &out.pixels[static_cast<size_t>(o) * out_w];
    for (int k = 0; k < ty.count[o]; ++k) {
      const float* row = &tmp[static_cast<size_t>(ty.first[o] + k - row_lo) * out_w];
      const float wk = w[k];
      for (int x = 0; x < out_w; ++x) dst[x] += wk * row[x];
    }
  }
  return out;
}

void GaussianBlur(GrayImage* img, double sigma) {
  if (sigma <= 0.05) return;
  const int radius = std::max(1, static_cast<int>(std::ceil(3 * sigma)));
  std::vector<float> k(2 * radius + 1);
  float total = 0;
  for (int i = -radius; i <= radius; ++i) total += k[i + radius] = static_cast<float>(std::exp(-0.5 * i * i / (sigma * sigma)));
  for (float& v : k) v /= total;
  GrayImage tmp(img->height, img->width);
  for (int y = 0; y < img->height; ++y)
    for (int x = 0; x < img->width; ++x) {
      float acc = 0;
      for (int i = -radius; i <= radius; ++i) acc += k[i + radius] * img->at(y, std::clamp(x + i, 0, img->width - 1));
      tmp.at(y, x) = acc;
    }
  for (int y = 0; y < img->height; ++y)
    for (int x = 0; x < img->width; ++x) {
      float acc = 0;
      for (int i = -radius; i <= radius; ++i) acc += k[i + radius] * tmp.at(std::clamp(y + i, 0, img->height - 1), x);
      img->at(y, x) = acc;
    }
}

}  // namespace chexworld
