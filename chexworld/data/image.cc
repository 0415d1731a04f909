#include "chexworld/data/image.h"

#include <algorithm>
#include <cmath>

namespace chexworld {

std::vector<uint8_t> ToUint8(const GrayImage& image) {
  std::vector<uint8_t> out(image.pixels.size());
  for (size_t i = 0; i < out.size(); ++i) {
    out[i] = static_cast<uint8_t>(std::lround(std::clamp(image.pixels[i], 0.0f, 1.0f) * 255.0f));
  }
  return out;
}

GrayImage FromUint8(const uint8_t* data, int height, int width) {
  GrayImage img(height, width);
  for (size_t i = 0; i < img.pixels.size(); ++i) img.pixels[i] = data[i] / 255.0f;
  return img;
}

std::vector<uint16_t> ToUint16(const GrayImage& image) {
  std::vector<uint16_t> out(image.pixels.size());
  for (size_t i = 0; i < out.size(); ++i) {
    out[i] = static_cast<uint16_t>(std::lround(std::clamp(image.pixels[i], 0.0f, 1.0f) * 65535.0f));
  }
  return out;
}

GrayImage FromUint16(const uint16_t* data, int height, int width) {
  GrayImage img(height, width);
  for (size_t i = 0; i < img.pixels.size(); ++i) img.pixels[i] = data[i] / 65535.0f;
  return img;
}

}  // namespace chexworld
