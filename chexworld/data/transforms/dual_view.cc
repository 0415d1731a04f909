#include "chexworld/data/transforms/dual_view.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "chexworld/data/resize.h"

namespace chexworld {
namespace {

double Uniform(std::mt19937_64& rng, double a, double b) {
  return a + (b - a) * std::uniform_real_distribution<double>(0.0, 1.0)(rng);
}
bool Coin(std::mt19937_64& rng, double p) { return p > 0 && std::uniform_real_distribution<double>(0.0, 1.0)(rng) < p; }

double Mean(const GrayImage& img) {
  double s = 0;
  for (float v : img.pixels) s += v;
  return img.pixels.empty() ? 0 : s / img.pixels.size();
}

void Brightness(GrayImage* img, double f) {
  for (float& v : img->pixels) v = static_cast<float>(std::clamp(v * f, 0.0, 1.0));
}

void Contrast(GrayImage* img, double f) {
  const double m = Mean(*img);
  for (float& v : img->pixels) v = static_cast<float>(std::clamp(m + (v - m) * f, 0.0, 1.0));
}

void Gamma(GrayImage* img, double g) {
  for (float& v : img->pixels) v = static_cast<float>(std::pow(std::clamp<double>(v, 0.0, 1.0), g));
}

}  // namespace

absl::StatusOr<DualViewOptions> ResolveDualViewOptions(const DualViewOptions& in) {
  DualViewOptions o = in;
  auto def = [](float v, float d) { return v == 0 ? d : v; };
  if (o.output_size() == 0) o.set_output_size(224);
  o.set_scale_min(def(o.scale_min(), 0.3f));
  o.set_scale_max(def(o.scale_max(), 1.0f));
  o.set_ratio_min(def(o.ratio_min(), 3.0f / 4));
  o.set_ratio_max(def(o.ratio_max(), 4.0f / 3));
  o.set_flip_probability(o.disable_flip() ? 0.0f : def(o.flip_probability(), 0.5f));
  o.set_shared_jitter_probability(o.disable_shared_jitter() ? 0.0f : def(o.shared_jitter_probability(), 0.8f));
  o.set_shared_jitter_brightness(def(o.shared_jitter_brightness(), 0.4f));
  o.set_shared_jitter_contrast(def(o.shared_jitter_contrast(), 0.4f));
  o.set_action_jitter_probability(def(o.action_jitter_probability(), 0.8f));
  o.set_brightness_min(def(o.brightness_min(), 0.6f));
  o.set_brightness_max(def(o.brightness_max(), 1.4f));
  o.set_contrast_min(def(o.contrast_min(), 0.6f));
  o.set_contrast_max(def(o.contrast_max(), 1.4f));
  o.set_gamma_min(def(o.gamma_min(), 0.5f));
  o.set_gamma_max(def(o.gamma_max(), 2.0f));
  o.set_blur_probability(def(o.blur_probability(), 0.2f));
  o.set_blur_min(def(o.blur_min(), 0.1f));
  o.set_blur_max(def(o.blur_max(), 2.0f));
  o.set_noise_min(def(o.noise_min(), 0.05f));
  o.set_noise_max(def(o.noise_max(), 0.2f));
  if (o.normalization().empty()) o.set_normalization("imagenet");
  auto bad = [](absl::string_view f, double v, absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat("DualViewOptions.", f, " = ", v, ": ", why));
  };
  if (o.output_size() < 8) return bad("output_size", o.output_size(), "must be >= 8");
  if (!(o.scale_min() > 0 && o.scale_min() <= o.scale_max() && o.scale_max() <= 1)) {
    return bad("scale_min", o.scale_min(), "need 0 < scale_min <= scale_max <= 1");
  }
  if (!(o.ratio_min() > 0 && o.ratio_min() <= o.ratio_max())) return bad("ratio_min", o.ratio_min(), "need 0 < ratio_min <= ratio_max");
  for (auto [name, p] : {std::pair<const char*, float>{"flip_probability", o.flip_probability()},
                         {"shared_jitter_probability", o.shared_jitter_probability()},
                         {"action_jitter_probability", o.action_jitter_probability()},
                         {"blur_probability", o.blur_probability()},
                         {"noise_probability", o.noise_probability()}}) {
    if (p < 0 || p > 1) return bad(name, p, "must be a probability in [0, 1]");
  }
  if (!(o.gamma_min() > 0 && o.gamma_min() <= o.gamma_max())) return bad("gamma_min", o.gamma_min(), "need 0 < gamma_min <= gamma_max");
  if (o.brightness_min() < 0 || o.brightness_min() > o.brightness_max()) return bad("brightness_min", o.brightness_min(), "need 0 <= min <= max");
  if (o.contrast_min() < 0 || o.contrast_min() > o.contrast_max()) return bad("contrast_min", o.contrast_min(), "need 0 <= min <= max");
  std::vector<float> m, s;
  if (auto st = NormalizationStats(o.normalization(), 1, &m, &s); !st.ok()) return st;
  return o;
}

absl::Status NormalizationStats(const std::string& preset, int channels, std::vector<float>* mean,
                                std::vector<float>* std) {
  if (preset == "imagenet" || preset.empty()) {
    if (channels == 3) {
      *mean = {0.485f, 0.456f, 0.406f};
      *std = {0.229f, 0.224f, 0.225f};
    } else {
      *mean = std::vector<float>(channels, 0.449f);
      *std = std::vector<float>(channels, 0.226f);
    }
  } else if (preset == "xray") {
    *mean = std::vector<float>(channels, 0.5056f);
    *std = std::vector<float>(channels, 0.252f);
  } else if (preset == "inception") {
    *mean = std::vector<float>(channels, 0.5f);
    *std = std::vector<float>(channels, 0.5f);
  } else {
    return absl::InvalidArgumentError(absl::StrCat("normalization '", preset, "' is not one of imagenet, xray, inception"));
  }
  return absl::OkStatus();
}

Box SampleCropBox(int height, int width, double scale_min, double scale_max, double ratio_min, double ratio_max,
                  std::mt19937_64& rng) {
  const double area = static_cast<double>(height) * width;
  for (int attempt = 0; attempt < 10; ++attempt) {
    const double target = area * Uniform(rng, scale_min, scale_max);
    const double ratio = std::exp(Uniform(rng, std::log(ratio_min), std::log(ratio_max)));
    const int w = static_cast<int>(std::lround(std::sqrt(target * ratio)));
    const int h = static_cast<int>(std::lround(std::sqrt(target / ratio)));
    if (w > 0 && h > 0 && w <= width && h <= height) {
      const int y = std::uniform_int_distribution<int>(0, height - h)(rng);
      const int x = std::uniform_int_distribution<int>(0, width - w)(rng);
      return Box{y, x, h, w};
    }
  }
  const double in_ratio = static_cast<double>(width) / height;
  int w = width, h = height;
  if (in_ratio < ratio_min) {
    h = static_cast<int>(std::lround(w / ratio_min));
  } else if (in_ratio > ratio_max) {
    w = static_cast<int>(std::lround(h * ratio_max));
  }
  return Box{(height - h) / 2, (width - w) / 2, h, w};
}

void ApplyAppearance(GrayImage* view, const Action& a) {
  if (a[0] != 1.f) Brightness(view, a[0]);
  if (a[1] != 1.f) Contrast(view, a[1]);
  if (a[2] != 1.f) Gamma(view, a[2]);
  if (a[3] > 0.f) GaussianBlur(view, a[3]);
  if (a[4] > 0.f) {
    // Deterministic given the pixels: the noise draw is seeded by the action.
    std::mt19937_64 rng(static_cast<uint64_t>(a[4] * 1e6) ^ view->pixels.size());
    std::normal_distribution<float> n(0.f, a[4]);
    for (float& v : view->pixels) v = std::clamp(v + n(rng), 0.f, 1.f);
  }
}

Action ApplyRandomAppearance(GrayImage* view, const DualViewOptions& o, std::mt19937_64& rng) {
  Action a = kIdentityAction;
  if (o.disable_action()) return a;
  if (Coin(rng, o.action_jitter_probability())) {
    a[0] = static_cast<float>(Uniform(rng, o.brightness_min(), o.brightness_max()));
    a[1] = static_cast<float>(Uniform(rng, o.contrast_min(), o.contrast_max()));
    a[2] = static_cast<float>(std::exp(Uniform(rng, std::log(o.gamma_min()), std::log(o.gamma_max()))));
  }
  if (Coin(rng, o.blur_probability())) a[3] = static_cast<float>(Uniform(rng, o.blur_min(), o.blur_max()));
  if (Coin(rng, o.noise_probability())) a[4] = static_cast<float>(Uniform(rng, o.noise_min(), o.noise_max()));
  ApplyAppearance(view, a);
  return a;
}

DualViewSample MakeDualView(const GrayImage& source, const DualViewOptions& o, std::mt19937_64& rng) {
  GrayImage img = source;
  // 1. Shared jitter (torchvision ColorJitter: factors U(1-s, 1+s), random order).
  if (Coin(rng, o.shared_jitter_probability())) {
    const double b = Uniform(rng, 1 - o.shared_jitter_brightness(), 1 + o.shared_jitter_brightness());
    const double c = Uniform(rng, 1 - o.shared_jitter_contrast(), 1 + o.shared_jitter_contrast());
    if (Coin(rng, 0.5)) {
      Brightness(&img, b);
      Contrast(&img, c);
    } else {
      Contrast(&img, c);
      Brightness(&img, b);
    }
  }
  DualViewSample s;
  const int H = img.height, W = img.width, out = o.output_size();
  // 2-3. Two same-size crops, each in its own (possibly flipped) frame.
  s.flip1 = Coin(rng, o.flip_probability());
  s.crop1 = SampleCropBox(H, W, o.scale_min(), o.scale_max(), o.ratio_min(), o.ratio_max(), rng);
  s.flip2 = Coin(rng, o.flip_probability());
  s.crop2 = Box{std::uniform_int_distribution<int>(0, H - s.crop1.h)(rng),
                std::uniform_int_distribution<int>(0, W - s.crop1.w)(rng), s.crop1.h, s.crop1.w};
  // Cropping box b of the flipped image = mirrored box of the original, mirrored again.
  auto view = [&](const Box& b, bool flip) {
    Box src = b;
    if (flip) src.x = W - b.x - b.w;
    return CropResize(img, src, out, out, flip);
  };
  s.view1 = view(s.crop1, s.flip1);
  s.view2 = view(s.crop2, s.flip2);
  // 4. Relative position (METHOD 1.4).
  const float h = static_cast<float>(s.crop1.h), w = static_cast<float>(s.crop1.w);
  const float rel_flip = s.flip1 != s.flip2 ? 1.f : 0.f;
  const float dflip = static_cast<float>(W - s.crop1.x - s.crop2.x) / w;
  s.rel_pos_21 = {(s.crop2.y - s.crop1.y) / h, (s.crop2.x - s.crop1.x) / w, rel_flip, dflip};
  s.rel_pos_12 = {(s.crop1.y - s.crop2.y) / h, (s.crop1.x - s.crop2.x) / w, rel_flip, dflip};
  // 5. Appearance actions.
  s.aug1 = s.view1;
  s.action1 = ApplyRandomAppearance(&s.aug1, o, rng);
  s.aug2 = s.view2;
  s.action2 = ApplyRandomAppearance(&s.aug2, o, rng);
  return s;
}

}  // namespace chexworld
