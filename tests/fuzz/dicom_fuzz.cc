// DICOM through GDCM, with our windowing / rescale / MONOCHROME1 / bit-depth
// path on top: never a crash, and a decoded image is always in [0, 1].
#include <cstdint>
#include <string>

#include "chexworld/data/dicom.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  auto d = chexworld::DecodeDicomBytes(bytes, "fuzz.dcm");
  if (d.ok()) {
    const auto& im = d->image;
    if (im.height <= 0 || im.width <= 0 || im.pixels.size() != static_cast<size_t>(im.height) * im.width) {
      __builtin_trap();
    }
    for (float v : im.pixels) {
      if (!(v >= 0.0f && v <= 1.0f)) __builtin_trap();
    }
  }
  return 0;
}
