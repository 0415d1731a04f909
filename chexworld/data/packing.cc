#include "chexworld/data/packing.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "absl/strings/str_cat.h"
#include "chexworld/data/resize.h"

namespace chexworld {

GrayImage Crop(const GrayImage& img, const Box& b) {
  GrayImage out(b.h, b.w);
  for (int y = 0; y < b.h; ++y)
    for (int x = 0; x < b.w; ++x) out.at(y, x) = img.at(b.y + y, b.x + x);
  return out;
}

Box FindContentBox(const GrayImage& img, float threshold) {
  // A row/column is content when at least 10% of its pixels exceed the threshold.
  auto content_rows = [&](bool rows) {
    const int n = rows ? img.height : img.width, m = rows ? img.width : img.height;
    std::vector<bool> c(n);
    for (int i = 0; i < n; ++i) {
      int bright = 0;
      for (int j = 0; j < m; ++j) bright += (rows ? img.at(i, j) : img.at(j, i)) > threshold;
      c[i] = bright * 10 >= m;
    }
    return c;
  };
  auto r = content_rows(true), c = content_rows(false);
  auto first = [](const std::vector<bool>& v) { return static_cast<int>(std::find(v.begin(), v.end(), true) - v.begin()); };
  auto last = [](const std::vector<bool>& v) {
    return static_cast<int>(v.size()) - 1 - static_cast<int>(std::find(v.rbegin(), v.rend(), true) - v.rbegin());
  };
  const int y0 = first(r), y1 = last(r), x0 = first(c), x1 = last(c);
  if (y0 > y1 || x0 > x1 || (y1 - y0 + 1) < img.height / 4 || (x1 - x0 + 1) < img.width / 4) {
    return Box{0, 0, img.height, img.width};  // nothing sensible to remove
  }
  return Box{y0, x0, y1 - y0 + 1, x1 - x0 + 1};
}

GrayImage FitToSquare(const GrayImage& img, int size, const std::string& mode, Box* content) {
  if (mode == "square") {
    *content = Box{0, 0, size, size};
    return Resize(img, size, size);
  }
  const double scale = static_cast<double>(size) / std::max(img.height, img.width);
  const int h = std::max(1, static_cast<int>(std::lround(img.height * scale)));
  const int w = std::max(1, static_cast<int>(std::lround(img.width * scale)));
  GrayImage resized = Resize(img, h, w);
  GrayImage out(size, size, 0.0f);
  *content = Box{(size - h) / 2, (size - w) / 2, h, w};
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) out.at(content->y + y, content->x + x) = resized.at(y, x);
  return out;
}

absl::Status ResolvePackingRules(PackingRules* r) {
  if (r->size() == 0) r->set_size(256);
  if (r->resize().empty()) r->set_resize("letterbox");
  if (r->pixel_type().empty()) r->set_pixel_type("uint8");
  if (r->size() < 16 || r->size() > 4096) {
    return absl::InvalidArgumentError(absl::StrCat("PackingRules.size ", r->size(), " out of [16, 4096]"));
  }
  if (r->resize() != "letterbox" && r->resize() != "square") {
    return absl::InvalidArgumentError(absl::StrCat("PackingRules.resize '", r->resize(), "' is not letterbox or square"));
  }
  if (r->pixel_type() != "uint8" && r->pixel_type() != "uint16") {
    return absl::InvalidArgumentError(absl::StrCat("PackingRules.pixel_type '", r->pixel_type(), "' is not uint8 or uint16"));
  }
  if (!(r->border_threshold() >= 0 && r->border_threshold() < 1)) {
    return absl::InvalidArgumentError(absl::StrCat("PackingRules.border_threshold ", r->border_threshold(), " not in [0, 1)"));
  }
  return absl::OkStatus();
}

GrayImage PackImage(const GrayImage& decoded, const PackingRules& rules, Box* crop, Box* content) {
  const Box box = rules.remove_border() ? FindContentBox(decoded, rules.border_threshold())
                                        : Box{0, 0, decoded.height, decoded.width};
  Box placed;
  GrayImage fitted = FitToSquare(Crop(decoded, box), rules.size(), rules.resize(), &placed);
  if (crop != nullptr) *crop = box;
  if (content != nullptr) *content = placed;
  if (rules.pixel_type() == "uint16") return FromUint16(ToUint16(fitted).data(), fitted.height, fitted.width);
  return FromUint8(ToUint8(fitted).data(), fitted.height, fitted.width);
}

}  // namespace chexworld
