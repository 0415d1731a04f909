#include "chexworld/data/phantom.h"

#include "chexworld/core/seed.h"
#include "chexworld/data/resize.h"

#include <algorithm>
#include <cmath>
#include <random>

namespace chexworld {
namespace {

constexpr double kPi = 3.14159265358979323846;

// splitmix64: a seed per (data set, image) independent of generation order.

struct Ellipse {
  double cy, cx, ry, rx, angle;
  bool Contains(double y, double x) const { return Value(y, x) <= 1.0; }
  double Value(double y, double x) const {
    const double c = std::cos(angle), s = std::sin(angle);
    const double dy = y - cy, dx = x - cx;
    const double u = (dx * c + dy * s) / rx, v = (-dx * s + dy * c) / ry;
    return u * u + v * v;
  }
};

// Soft inside-ness of an ellipse: 1 inside, smooth falloff over `soft`.
double Soft(const Ellipse& e, double y, double x, double soft) {
  const double r = std::sqrt(e.Value(y, x));
  return std::clamp((1.0 + soft - r) / soft, 0.0, 1.0);
}

}  // namespace

const std::vector<std::string>& PhantomLabelNames() {
  static const auto* n = new std::vector<std::string>{"opacity", "cardiomegaly"};
  return *n;
}

const std::vector<std::string>& PhantomMaskNames() {
  static const auto* n = new std::vector<std::string>{"lungs", "heart", "opacity"};
  return *n;
}

PhantomImage MakePhantom(const PhantomOptions& o, uint64_t seed, int64_t index) {
  std::mt19937_64 rng(MixSeed(MixSeed(seed) ^ static_cast<uint64_t>(index)));
  std::uniform_real_distribution<double> u(0.0, 1.0);
  auto U = [&](double a, double b) { return a + (b - a) * u(rng); };
  const int s = o.image_size;
  const double S = s;
  PhantomImage out;
  out.site = static_cast<int>(rng() % std::max(1, o.num_sites));
  // Site style: a fixed draw per site (same seed stream for every image of that site).
  std::mt19937_64 site_rng(MixSeed(seed * 31 + 7 + out.site));
  std::uniform_real_distribution<double> su(0.0, 1.0);
  const double site_exposure = 0.75 + 0.5 * su(site_rng);
  const double site_gamma = 0.7 + 0.7 * su(site_rng);
  const double site_blur = 1.2 * su(site_rng);
  const double site_noise = 0.01 + 0.04 * su(site_rng);
  const double site_border = 0.08 * su(site_rng);

  // Anatomy with per-patient variation.
  const double scale = U(0.9, 1.05), tilt = U(-0.06, 0.06), shift = U(-0.03, 0.03) * S;
  const double cx = S / 2 + shift, cy = S * U(0.5, 0.55);
  const bool cardiomegaly = u(rng) < o.cardiomegaly_probability;
  const bool opacity = u(rng) < o.opacity_probability;
  Ellipse lung_r{cy - 0.02 * S, cx - 0.2 * S * scale, 0.3 * S * scale, 0.14 * S * scale, tilt + 0.08};
  Ellipse lung_l{cy - 0.02 * S, cx + 0.2 * S * scale, 0.28 * S * scale, 0.13 * S * scale, tilt - 0.08};
  const double heart_r = (cardiomegaly ? U(0.17, 0.21) : U(0.11, 0.14)) * S * scale;
  Ellipse heart{cy + 0.14 * S, cx + 0.05 * S, heart_r * 0.85, heart_r, tilt - 0.3};
  Ellipse body{cy + 0.02 * S, cx, 0.52 * S, 0.44 * S, tilt};
  Ellipse lesion{0, 0, 0, 0, 0};
  if (opacity) {
    const Ellipse& host = u(rng) < 0.5 ? lung_r : lung_l;
    const double r = U(0.05, 0.09) * S;
    lesion = Ellipse{host.cy + U(-0.4, 0.4) * host.ry, host.cx + U(-0.45, 0.45) * host.rx, r, r * U(0.7, 1.3), U(0, kPi)};
  }
  const int rib_count = 9;
  const double rib_phase = U(0, 1), rib_thick = U(0.008, 0.013) * S;

  GrayImage img(s, s);
  out.masks.assign(3 * static_cast<size_t>(s) * s, 0);
  auto mask = [&](int m, int y, int x) -> uint8_t& {
    return out.masks[(static_cast<size_t>(m) * s + y) * s + x];
  };
  for (int y = 0; y < s; ++y) {
    for (int x = 0; x < s; ++x) {
      const double py = y + 0.5, px = x + 0.5;
      // Attenuation: soft tissue everywhere in the body, less in air-filled lungs.
      double a = 0.08 + 0.42 * Soft(body, py, px, 0.08);
      const double lungs = std::max(Soft(lung_r, py, px, 0.06), Soft(lung_l, py, px, 0.06));
      a -= 0.3 * lungs;
      // Mediastinum and spine: a central vertical band, brighter below.
      const double band = std::exp(-std::pow((px - cx) / (0.06 * S), 2));
      a += 0.25 * band * std::clamp((py - 0.1 * S) / (0.3 * S), 0.0, 1.0);
      // Heart.
      a += 0.28 * Soft(heart, py, px, 0.05);
      // Ribs: bright arcs over the thorax.
      for (int k = 0; k < rib_count; ++k) {
        const double ry = cy - 0.3 * S + (k + rib_phase) * 0.065 * S;
        const double curve = ry + 0.12 * S * std::pow((px - cx) / (0.4 * S), 2);
        const double d = std::abs(py - curve);
        if (std::abs(px - cx) > 0.04 * S && std::abs(px - cx) < 0.4 * S) a += 0.07 * std::exp(-std::pow(d / rib_thick, 2));
      }
      // Clavicles: two bright bars at the top.
      for (int side : {-1, 1}) {
        const double t = (px - cx) * side;
        if (t > 0.03 * S && t < 0.3 * S) {
          const double line = cy - 0.33 * S - 0.12 * (t - 0.03 * S);
          a += 0.18 * std::exp(-std::pow((py - line) / (0.014 * S), 2));
        }
      }
      if (opacity) a += 0.22 * Soft(lesion, py, px, 0.5) * lungs;
      img.at(y, x) = static_cast<float>(a);
      mask(0, y, x) = lung_r.Contains(py, px) || lung_l.Contains(py, px);
      mask(1, y, x) = heart.Contains(py, px);
      mask(2, y, x) = opacity && lesion.Contains(py, px) && lungs > 0.5;
    }
  }
  // Site style: blur, exposure, contrast (gamma), noise, collimation.
  GaussianBlur(&img, site_blur * S / 128.0);
  std::normal_distribution<double> noise(0.0, site_noise);
  const int border = static_cast<int>(site_border * S * U(0.5, 1.5));
  for (int y = 0; y < s; ++y) {
    for (int x = 0; x < s; ++x) {
      double v = std::clamp(img.at(y, x) * site_exposure, 0.0, 1.0);
      v = std::pow(v, site_gamma) + noise(rng);
      if (y < border || y >= s - border / 2 || x < border / 2 || x >= s - border) v = 0.02 * u(rng);
      img.at(y, x) = static_cast<float>(std::clamp(v, 0.0, 1.0));
    }
  }
  out.image = std::move(img);
  out.labels = {opacity ? 1.0f : 0.0f, cardiomegaly ? 1.0f : 0.0f};
  return out;
}

}  // namespace chexworld
