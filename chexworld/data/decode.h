// Decoding radiograph files into GrayImage ([0, 1], 1 = bright).
//
// PNG (8/16-bit gray, gray+alpha, RGB/RGBA, palette) through libpng, JPEG
// (baseline/progressive, 8-bit) through libjpeg-turbo, DICOM through GDCM
// (see dicom.h). The format is detected from the file's bytes, not its name.
// Corrupt, truncated or empty input returns DataLoss/InvalidArgument naming the
// file; nothing aborts.
#ifndef CHEXWORLD_DATA_DECODE_H_
#define CHEXWORLD_DATA_DECODE_H_

#include <string>

#include "absl/status/statusor.h"
#include "chexworld/data/image.h"

namespace chexworld {

struct DecodedImage {
  GrayImage image;
  std::string format;       // "png", "jpeg", "dicom"
  int bits_stored = 8;      // of the source samples
  std::string photometric;  // DICOM photometric interpretation, or "GRAY"/"RGB" for PNG/JPEG
  std::string windowing;    // what mapped stored values to [0, 1] (DICOM), "" otherwise
};

enum class ImageFormat { kUnknown, kPng, kJpeg, kDicom };

// From the first bytes (PNG/JPEG magic, DICOM "DICM" at 128 or a plausible
// group-0002/0008 tag at 0 for files without a preamble).
ImageFormat SniffFormat(const std::string& bytes);

absl::StatusOr<DecodedImage> DecodePng(const std::string& bytes, const std::string& name);
absl::StatusOr<DecodedImage> DecodeJpeg(const std::string& bytes, const std::string& name);

// Reads and decodes any supported file.
absl::StatusOr<DecodedImage> DecodeImageFile(const std::string& path);
// Decodes bytes already in memory (`name` is used in errors).
absl::StatusOr<DecodedImage> DecodeImageBytes(const std::string& bytes, const std::string& name);

// Encoders used by tests, the phantom generator's previews and the analyses.
absl::StatusOr<std::string> EncodePng8(const GrayImage& image);
// Baseline 8-bit grayscale JPEG at `quality` (1-100), e.g. to test that a
// re-encoded radiograph is still recognised as the same image.
absl::StatusOr<std::string> EncodeJpeg8(const GrayImage& image, int quality);
absl::StatusOr<std::string> EncodePngRgb(const std::vector<uint8_t>& rgb, int height, int width);

}  // namespace chexworld

#endif  // CHEXWORLD_DATA_DECODE_H_
