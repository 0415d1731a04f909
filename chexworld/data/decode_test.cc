// Decoding: PNG/JPEG round trips, every DICOM in ../shared/data/dicom, and a
// randomized corruption run over all decoders (must fail cleanly, never crash).
#include "chexworld/data/decode.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <dirent.h>

#include <cmath>
#include <random>

#include "chexworld/core/paths.h"
#include "chexworld/data/dicom.h"
#include "chexworld/data/resize.h"

namespace chexworld {
namespace {

using ::testing::HasSubstr;

GrayImage Gradient(int h, int w) {
  GrayImage g(h, w);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) g.at(y, x) = static_cast<float>((x + 2 * y) % 256) / 255.0f;
  return g;
}

std::string DicomDir() {
  const std::string d = SharedDataDir();
  return d.empty() ? "" : d + "/data/dicom";
}

double Correlation(const GrayImage& a, const GrayImage& b) {
  double ma = 0, mb = 0;
  for (size_t i = 0; i < a.pixels.size(); ++i) ma += a.pixels[i], mb += b.pixels[i];
  ma /= a.pixels.size();
  mb /= b.pixels.size();
  double sab = 0, saa = 0, sbb = 0;
  for (size_t i = 0; i < a.pixels.size(); ++i) {
    sab += (a.pixels[i] - ma) * (b.pixels[i] - mb);
    saa += (a.pixels[i] - ma) * (a.pixels[i] - ma);
    sbb += (b.pixels[i] - mb) * (b.pixels[i] - mb);
  }
  return sab / std::sqrt(saa * sbb);
}

TEST(DecodeTest, PngRoundTripIsExact) {
  GrayImage g = Gradient(37, 53);
  auto png = EncodePng8(g);
  ASSERT_TRUE(png.ok());
  auto d = DecodeImageBytes(*png, "mem.png");
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->format, "png");
  EXPECT_EQ(d->image.height, 37);
  EXPECT_EQ(d->image.width, 53);
  EXPECT_EQ(ToUint8(d->image), ToUint8(g));
}

TEST(DecodeTest, RgbPngBecomesLuma) {
  std::vector<uint8_t> rgb = {255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 10, 10};
  auto png = EncodePngRgb(rgb, 2, 2);
  ASSERT_TRUE(png.ok());
  auto d = DecodeImageBytes(*png, "rgb.png");
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_NEAR(d->image.at(0, 0), 0.299, 1e-3);
  EXPECT_NEAR(d->image.at(0, 1), 0.587, 1e-3);
  EXPECT_NEAR(d->image.at(1, 1), 10 / 255.0, 1e-3);
}

TEST(DecodeTest, EmptyAndUnknownInputFailClearly) {
  auto d = DecodeImageBytes("", "empty.png");
  EXPECT_THAT(std::string(d.status().message()), HasSubstr("empty.png: empty file"));
  d = DecodeImageBytes("hello world, not an image", "x.jpg");
  EXPECT_THAT(std::string(d.status().message()), HasSubstr("x.jpg: not a PNG, JPEG or DICOM"));
  EXPECT_FALSE(DecodeImageFile("/nonexistent/a.png").ok());
}

TEST(DecodeTest, TruncatedFilesAreDataLoss) {
  auto png = EncodePng8(Gradient(64, 64));
  ASSERT_TRUE(png.ok());
  auto d = DecodeImageBytes(png->substr(0, png->size() / 2), "half.png");
  EXPECT_EQ(d.status().code(), absl::StatusCode::kDataLoss);
  const std::string shared = SharedDataDir();
  if (shared.empty()) GTEST_SKIP() << "../shared/data absent: skipping the JPEG truncation check";
  auto jpeg = ReadFile(shared + "/data/kermany4/train/Normal/0.jpg");
  ASSERT_TRUE(jpeg.ok());
  ASSERT_TRUE(DecodeImageBytes(*jpeg, "full.jpg").ok());
  d = DecodeImageBytes(jpeg->substr(0, jpeg->size() / 2), "half.jpg");
  EXPECT_EQ(d.status().code(), absl::StatusCode::kDataLoss) << d.status();
}

TEST(DicomTest, EveryFileDecodes) {
  const std::string dir = DicomDir();
  if (dir.empty()) GTEST_SKIP() << "../shared/data/dicom absent: skipping DICOM decoding";
  int n = 0;
  DIR* d = opendir(dir.c_str());
  ASSERT_NE(d, nullptr);
  while (dirent* e = readdir(d)) {
    std::string name = e->d_name;
    if (name.size() < 4 || name.substr(name.size() - 4) != ".dcm") continue;
    auto img = DecodeImageFile(dir + "/" + name);
    ASSERT_TRUE(img.ok()) << name << ": " << img.status();
    EXPECT_EQ(img->format, "dicom");
    EXPECT_GT(img->image.height, 32) << name;
    float lo = 1, hi = 0;
    for (float v : img->image.pixels) lo = std::min(lo, v), hi = std::max(hi, v);
    EXPECT_GE(lo, 0.0f);
    EXPECT_LE(hi, 1.0f);
    EXPECT_GT(hi - lo, 0.2f) << name << " decodes to a nearly flat image (" << img->windowing << ")";
    std::cout << name << ": " << img->image.height << "x" << img->image.width << " bits " << img->bits_stored
              << " " << img->photometric << " " << img->windowing << "\n";
    ++n;
  }
  closedir(d);
  EXPECT_EQ(n, 6);
}

TEST(DicomTest, Monochrome1IsInvertedRelativeToItsSource) {
  const std::string dir = DicomDir();
  if (dir.empty()) GTEST_SKIP() << "../shared/data/dicom absent";
  auto mono2 = DecodeImageFile(dir + "/siim_1.2.276.0.7230010.3.1.4.8323329.6904.dcm");
  auto mono1 = DecodeImageFile(dir + "/txv_Fake_MONOHR1.dcm");
  ASSERT_TRUE(mono2.ok() && mono1.ok());
  EXPECT_EQ(mono1->photometric, "MONOCHROME1");
  EXPECT_EQ(mono2->photometric, "MONOCHROME2");
  GrayImage a = Resize(mono1->image, 64, 64), b = Resize(mono2->image, 64, 64);
  EXPECT_LT(Correlation(a, b), -0.9);
}

TEST(DicomTest, CompressedAndRawCopiesAgree) {
  const std::string dir = DicomDir();
  if (dir.empty()) GTEST_SKIP() << "../shared/data/dicom absent";
  auto j2k = DecodeImageFile(dir + "/RG1_J2KI.dcm");
  auto raw = DecodeImageFile(dir + "/RG1_J2KI_decompressed_raw.dcm");
  ASSERT_TRUE(j2k.ok() && raw.ok());
  ASSERT_EQ(j2k->image.pixels.size(), raw->image.pixels.size());
  EXPECT_EQ(j2k->image.pixels, raw->image.pixels);
  auto plain = DecodeImageFile(dir + "/CR-MONO1-10-chest.dcm");
  auto part10 = DecodeImageFile(dir + "/CR-MONO1-10-chest_part10.dcm");
  ASSERT_TRUE(plain.ok() && part10.ok()) << plain.status() << part10.status();
  EXPECT_EQ(plain->image.pixels, part10->image.pixels);
}

// Randomized corruption (bit flips, truncation, spliced garbage) over PNG, JPEG
// and DICOM inputs: every outcome must be a Status, never a crash or hang.
// Inputs that once crashed, aborted or exhausted memory (tests/fuzz/regressions,
// made by tests/fuzz/make_seeds.py): each now fails with its reason named.
TEST(FuzzRegressionTest, EachFindingFailsWithItsReason) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"dicom_fuzz/declared_length_beyond_file.dcm", "declares 3221225472 bytes, only 4 remain in the file"},
      {"dicom_fuzz/meta_group_only.dcm", "without a data set"},
      {"dicom_fuzz/samples_per_pixel_513.dcm", "Samples per Pixel (0028,0002) is 513"},
      {"dicom_fuzz/high_bit_as_ss.dcm", "(0028,0102) at offset"},
      {"dicom_fuzz/undefined_length_ob.dcm", "undefined length with VR OB"},
      {"image_fuzz/meta_group_only.dcm", "without a data set"},
      {"image_fuzz/unknown_vr.dcm", "has no value representation ('RN')"},
      {"image_fuzz/png_65535_square.png", "65535 x 65535 pixels exceeds the limit"},
      {"image_fuzz/sof_after_scan.jpg", "corrupt JPEG"},
      {"dicom_fuzz/bad_photometric_slow_path.dcm", "photometric interpretation 'OMNOCHROME1'"},
      {"dicom_fuzz/no_pixel_data_bad_recognition_code.dcm", "no Pixel Data (7fe0,0010)"},
  };
  for (const auto& [file, words] : cases) {
    auto bytes = ReadFile("tests/fuzz/regressions/" + file);
    ASSERT_TRUE(bytes.ok()) << bytes.status();
    // As the file's fuzz target reached it: dicom_fuzz decodes DICOM directly.
    auto d = file.rfind("dicom_fuzz/", 0) == 0 ? DecodeDicomBytes(*bytes, file) : DecodeImageBytes(*bytes, file);
    ASSERT_FALSE(d.ok()) << file << " decoded";
    EXPECT_THAT(std::string(d.status().message()), HasSubstr(words)) << file;
    EXPECT_THAT(std::string(d.status().message()), HasSubstr(file));
  }
}

TEST(FuzzTest, CorruptedInputsFailCleanly) {
  std::vector<std::pair<std::string, std::string>> seeds;
  seeds.emplace_back("gen.png", *EncodePng8(Gradient(48, 40)));
  const std::string shared = SharedDataDir();
  if (!shared.empty()) {
    seeds.emplace_back("k.jpg", *ReadFile(shared + "/data/kermany4/train/Normal/1.jpg"));
    seeds.emplace_back("mono1.dcm", *ReadFile(shared + "/data/dicom/CR-MONO1-10-chest.dcm"));
    seeds.emplace_back("j2k.dcm", *ReadFile(shared + "/data/dicom/RG1_J2KI.dcm"));
  }
  std::mt19937 rng(1234);
  int ok = 0, failed = 0;
  for (const auto& [name, seed] : seeds) {
    for (int trial = 0; trial < 150; ++trial) {
      std::string b = seed;
      switch (trial % 3) {
        case 0:
          for (int k = 0; k < 1 + trial % 7; ++k) b[rng() % b.size()] ^= static_cast<char>(1 << (rng() % 8));
          break;
        case 1:
          b.resize(rng() % b.size());
          break;
        default: {
          size_t at = rng() % b.size();
          for (size_t k = at; k < std::min(b.size(), at + 64); ++k) b[k] = static_cast<char>(rng());
        }
      }
      auto d = DecodeImageBytes(b, name);
      (d.ok() ? ok : failed)++;
      if (d.ok()) {
        for (float v : d->image.pixels) ASSERT_TRUE(std::isfinite(v)) << name;
      }
    }
  }
  std::cout << "corruption trials: " << ok << " decoded, " << failed << " rejected\n";
  EXPECT_GT(failed, 0);
}

}  // namespace
}  // namespace chexworld
