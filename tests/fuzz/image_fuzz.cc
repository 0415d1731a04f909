// PNG and JPEG decoding (libpng, libjpeg-turbo) on arbitrary bytes: never a
// crash, and a decoded image is always consistent.
#include <cmath>
#include <cstdint>
#include <string>

#include "chexworld/data/decode.h"

namespace {

void CheckImage(const chexworld::DecodedImage& d) {
  const auto& im = d.image;
  if (im.height <= 0 || im.width <= 0) __builtin_trap();
  if (im.pixels.size() != static_cast<size_t>(im.height) * im.width) __builtin_trap();
  for (float v : im.pixels) {
    if (!(v >= 0.0f && v <= 1.0f)) __builtin_trap();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  if (auto png = chexworld::DecodePng(bytes, "fuzz.png"); png.ok()) CheckImage(*png);
  if (auto jpeg = chexworld::DecodeJpeg(bytes, "fuzz.jpg"); jpeg.ok()) CheckImage(*jpeg);
  if (auto any = chexworld::DecodeImageBytes(bytes, "fuzz"); any.ok()) CheckImage(*any);
  return 0;
}
