#include "chexworld/data/dicom.h"

#include <gdcmImageReader.h>
#include <gdcmSequenceOfItems.h>
#include <gdcmTrace.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "chexworld/data/dicom_precheck.h"

namespace chexworld {
namespace {

// First numeric value of a text element ("40\\400" -> 40); NaN when absent.
double FirstNumber(const gdcm::DataSet& ds, uint16_t group, uint16_t element) {
  const gdcm::Tag tag(group, element);
  if (!ds.FindDataElement(tag)) return std::nan("");
  const gdcm::DataElement& de = ds.GetDataElement(tag);
  const gdcm::ByteValue* bv = de.GetByteValue();
  if (bv == nullptr || bv->GetLength() == 0) return std::nan("");
  std::string text(bv->GetPointer(), bv->GetLength());
  std::string first(absl::StripAsciiWhitespace(text.substr(0, text.find('\\'))));
  char* end = nullptr;
  double v = std::strtod(first.c_str(), &end);
  return end == first.c_str() ? std::nan("") : v;
}

struct VoiLut {
  int entries = 0;
  double first_mapped = 0;
  int bits = 16;
  std::vector<uint16_t> data;
};

// The first item of the VOI LUT Sequence (0028,3010), if any.
bool ReadVoiLut(const gdcm::DataSet& ds, VoiLut* lut) {
  const gdcm::Tag seq_tag(0x0028, 0x3010);
  if (!ds.FindDataElement(seq_tag)) return false;
  gdcm::SmartPointer<gdcm::SequenceOfItems> seq = ds.GetDataElement(seq_tag).GetValueAsSQ();
  if (!seq || seq->GetNumberOfItems() == 0) return false;
  const gdcm::DataSet& item = seq->GetItem(1).GetNestedDataSet();
  const gdcm::Tag desc_tag(0x0028, 0x3002), data_tag(0x0028, 0x3006);
  if (!item.FindDataElement(desc_tag) || !item.FindDataElement(data_tag)) return false;
  const gdcm::ByteValue* desc = item.GetDataElement(desc_tag).GetByteValue();
  const gdcm::ByteValue* data = item.GetDataElement(data_tag).GetByteValue();
  if (desc == nullptr || data == nullptr || desc->GetLength() < 6) return false;
  uint16_t d[3];
  std::memcpy(d, desc->GetPointer(), 6);
  lut->entries = d[0] == 0 ? 65536 : d[0];
  lut->first_mapped = static_cast<int16_t>(d[1]);  // US or SS: the sign follows Pixel Representation
  lut->bits = d[2];
  const size_t n = data->GetLength() / 2;
  if (n < static_cast<size_t>(lut->entries) || lut->bits <= 0 || lut->bits > 16) return false;
  lut->data.resize(n);
  std::memcpy(lut->data.data(), data->GetPointer(), n * 2);
  return true;
}

}  // namespace

absl::StatusOr<DecodedImage> DecodeDicomBytes(const std::string& bytes, const std::string& name) {
  static const bool quiet = [] {  // errors come back as Status, not on stderr
    gdcm::Trace::WarningOff();
    gdcm::Trace::ErrorOff();
    gdcm::Trace::DebugOff();
    return true;
  }();
  (void)quiet;
  // Lengths and pixel description checked before GDCM allocates or asserts on them.
  if (absl::Status s = PrecheckDicom(bytes, name); !s.ok()) return s;
  gdcm::ImageReader reader;
  std::istringstream stream(bytes);
  reader.SetStream(stream);
  if (!reader.Read()) return absl::DataLossError(absl::StrCat(name, ": not a readable DICOM image"));
  const gdcm::Image& img = reader.GetImage();
  const gdcm::DataSet& ds = reader.GetFile().GetDataSet();
  const unsigned int* dims = img.GetDimensions();
  const int w = static_cast<int>(dims[0]), h = static_cast<int>(dims[1]);
  if (w <= 0 || h <= 0) return absl::InvalidArgumentError(absl::StrCat(name, ": zero-size DICOM image"));
  if (static_cast<int64_t>(w) * h > kMaxDecodedPixels) {
    return absl::InvalidArgumentError(absl::StrCat(name, ": DICOM image of ", w, " x ", h, " pixels exceeds the limit of ",
                                                   kMaxDecodedPixels, " pixels"));
  }
  const gdcm::PixelFormat pf = img.GetPixelFormat();
  if (pf.GetSamplesPerPixel() != 1) {
    return absl::UnimplementedError(absl::StrCat(name, ": ", pf.GetSamplesPerPixel(), " samples per pixel (only grayscale radiographs)"));
  }
  const std::string photometric(absl::StripAsciiWhitespace(
      gdcm::PhotometricInterpretation::GetPIString(img.GetPhotometricInterpretation())));
  if (img.GetNumberOfDimensions() > 2 && dims[2] > 1 &&
      static_cast<int64_t>(w) * h * dims[2] > 4 * kMaxDecodedPixels) {
    return absl::InvalidArgumentError(absl::StrCat(name, ": ", dims[2], " frames of ", w, " x ", h, " pixels"));
  }
  const size_t length = img.GetBufferLength();
  const size_t expected = static_cast<size_t>(w) * h * (pf.GetBitsAllocated() / 8);
  if (length < expected || (pf.GetBitsAllocated() != 8 && pf.GetBitsAllocated() != 16)) {
    return absl::UnimplementedError(absl::StrCat(name, ": unsupported pixel layout (", pf.GetBitsAllocated(),
                                                 " bits allocated)"));
  }
  std::vector<char> buffer(length);
  const std::string syntax = gdcm::TransferSyntax::GetTSString(reader.GetFile().GetHeader().GetDataSetTransferSyntax());
  if (!img.GetBuffer(buffer.data())) {
    return absl::DataLossError(absl::StrCat(name, ": cannot decode pixel data (transfer syntax ", syntax, ")"));
  }
  // Stored values (first frame), sign per Pixel Representation, masked to Bits Stored.
  const int bits_stored = pf.GetBitsStored();
  const bool is_signed = pf.GetPixelRepresentation() == 1;
  std::vector<double> stored(static_cast<size_t>(w) * h);
  for (size_t i = 0; i < stored.size(); ++i) {
    int64_t v;
    if (pf.GetBitsAllocated() == 8) {
      v = is_signed ? static_cast<int8_t>(buffer[i]) : static_cast<uint8_t>(buffer[i]);
    } else {
      uint16_t u;
      std::memcpy(&u, buffer.data() + 2 * i, 2);
      v = is_signed ? static_cast<int16_t>(u) : u;
    }
    stored[i] = static_cast<double>(v);
  }
  const double slope = img.GetSlope(), intercept = img.GetIntercept();
  for (double& v : stored) v = v * slope + intercept;

  DecodedImage out;
  out.format = "dicom";
  out.bits_stored = bits_stored;
  out.photometric = photometric;
  out.image = GrayImage(h, w);
  VoiLut lut;
  const double center = FirstNumber(ds, 0x0028, 0x1050), width = FirstNumber(ds, 0x0028, 0x1051);
  if (ReadVoiLut(ds, &lut)) {
    const double maxv = (1 << lut.bits) - 1;
    for (size_t i = 0; i < stored.size(); ++i) {
      const long idx = std::clamp<long>(std::lround(stored[i] - lut.first_mapped), 0, lut.entries - 1);
      out.image.pixels[i] = static_cast<float>(std::min<double>(lut.data[idx], maxv) / maxv);
    }
    out.windowing = absl::StrCat("VOI LUT (", lut.entries, " entries, ", lut.bits, " bits)");
  } else if (std::isfinite(center) && std::isfinite(width) && width >= 1) {
    for (size_t i = 0; i < stored.size(); ++i) {
      const double x = stored[i];
      double y;
      if (x <= center - 0.5 - (width - 1) / 2) y = 0;
      else if (x > center - 0.5 + (width - 1) / 2) y = 1;
      else y = ((x - (center - 0.5)) / (width - 1) + 0.5);
      out.image.pixels[i] = static_cast<float>(std::clamp(y, 0.0, 1.0));
    }
    out.windowing = absl::StrCat("window center ", center, " width ", width);
  } else {
    auto [lo, hi] = std::minmax_element(stored.begin(), stored.end());
    const double range = std::max(*hi - *lo, 1e-12);
    for (size_t i = 0; i < stored.size(); ++i) out.image.pixels[i] = static_cast<float>((stored[i] - *lo) / range);
    out.windowing = absl::StrCat("min-max [", *lo, ", ", *hi, "]");
  }
  if (photometric == "MONOCHROME1") {
    for (float& v : out.image.pixels) v = 1.0f - v;
    out.windowing += ", MONOCHROME1 inverted";
  } else if (photometric != "MONOCHROME2") {
    return absl::UnimplementedError(absl::StrCat(name, ": photometric interpretation ", photometric));
  }
  return out;
}

}  // namespace chexworld
