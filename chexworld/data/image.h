// A single-channel radiograph in memory: row-major float pixels, by
// convention in [0, 1] with 1 = bright (bone), after any DICOM windowing and
// MONOCHROME1 inversion. Torch-free so decoders and transforms stay cheap to
// build and can run in loader threads.
#ifndef CHEXWORLD_DATA_IMAGE_H_
#define CHEXWORLD_DATA_IMAGE_H_

#include <cstddef>
#include <cstdint>
#include <vector>

namespace chexworld {

// The most pixels a decoder accepts (about 134 megapixels, 11585 x 11585;
// radiographs are at most about 20): a header cannot make us allocate more.
inline constexpr int64_t kMaxDecodedPixels = int64_t{1} << 27;

struct GrayImage {
  int height = 0;
  int width = 0;
  std::vector<float> pixels;  // height * width

  GrayImage() = default;
  GrayImage(int h, int w, float fill = 0.0f) : height(h), width(w), pixels(static_cast<size_t>(h) * w, fill) {}
  float& at(int y, int x) { return pixels[static_cast<size_t>(y) * width + x]; }
  float at(int y, int x) const { return pixels[static_cast<size_t>(y) * width + x]; }
  bool empty() const { return height <= 0 || width <= 0; }
};

// A pixel rectangle: top-left (y, x) and size (h, w).
struct Box {
  int y = 0, x = 0, h = 0, w = 0;
};

// [0, 1] floats to bytes (rounded, clipped) and back (/255).
std::vector<uint8_t> ToUint8(const GrayImage& image);
GrayImage FromUint8(const uint8_t* data, int height, int width);
std::vector<uint16_t> ToUint16(const GrayImage& image);
GrayImage FromUint16(const uint16_t* data, int height, int width);

}  // namespace chexworld

#endif  // CHEXWORLD_DATA_IMAGE_H_
