#include "chexworld/data/dicom_precheck.h"

#include <algorithm>
#include <cstdint>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/match.h"
#include "chexworld/data/image.h"

namespace chexworld {
namespace {

constexpr uint32_t kUndefined = 0xFFFFFFFF;
constexpr int kMaxDepth = 32;

bool LongLengthVr(absl::string_view vr) {
  for (const char* v : {"OB", "OD", "OF", "OL", "OV", "OW", "SQ", "UC", "UN", "UR", "UT", "SV", "UV"}) {
    if (vr == v) return true;
  }
  return false;
}

// The value representations of PS3.5 (an unknown one sends GDCM down
// fallback paths that assert on truncated input).
bool IsVr(absl::string_view vr) {
  static constexpr const char* kVrs[] = {"AE", "AS", "AT", "CS", "DA", "DS", "DT", "FD", "FL", "IS", "LO",
                                         "LT", "OB", "OD", "OF", "OL", "OV", "OW", "PN", "SH", "SL", "SQ",
                                         "SS", "ST", "SV", "TM", "UC", "UI", "UL", "UN", "UR", "US", "UT", "UV"};
  for (const char* v : kVrs) {
    if (vr == v) return true;
  }
  return false;
}

// The VR PS3.6 gives the Image Pixel and VOI elements GDCM reads as typed
// attributes (it asserts when a file's VR differs); nullptr for other tags.
const char* PixelModuleVr(uint16_t g, uint16_t e) {
  if (g == 0x0028) {
    switch (e) {
      case 0x0002: case 0x0006: case 0x0010: case 0x0011: case 0x0100: case 0x0101: case 0x0102: case 0x0103:
        return "US";
      case 0x0004: return "CS";
      case 0x0008: return "IS";
      case 0x1050: case 0x1051: case 0x1052: case 0x1053: return "DS";
      case 0x3010: return "SQ";
      default: return nullptr;
    }
  }
  if (g == 0x0002 && e == 0x0010) return "UI";
  return nullptr;
}

class Walker {
 public:
  Walker(absl::string_view b, std::string name) : b_(b), name_(std::move(name)) {}

  absl::Status Run() {
    size_t pos = 0;
    if (b_.size() >= 132 && b_.substr(128, 4) == "DICM") pos = 132;
    // The file meta group is explicit VR little endian; it names the data set's syntax.
    explicit_ = true;
    big_ = false;
    absl::Status s = DataSet(&pos, b_.size(), 0, /*in_undefined_item=*/false, /*meta_only=*/true);
    if (!s.ok()) return s;
    // GDCM (Debian's build keeps its asserts) aborts on a file that ends in
    // or right after its meta group.
    if (b_.size() - pos < 8) {
      return absl::DataLossError(absl::StrCat(name_, ": DICOM file without a data set (", b_.size() - pos,
                                              " bytes after the file meta group)"));
    }
    if (syntax_ == "1.2.840.10008.1.2.1.99") return absl::OkStatus();  // deflated: GDCM inflates
    if (!syntax_.empty()) {
      explicit_ = syntax_ != "1.2.840.10008.1.2";
      big_ = syntax_ == "1.2.840.10008.1.2.2";
    } else {
      // No meta group: explicit when a VR follows the first tag.
      explicit_ = pos + 6 <= b_.size() && IsVr(b_.substr(pos + 4, 2));
    }
    s = DataSet(&pos, b_.size(), 0, false, false);
    if (!s.ok()) return s;
    return CheckPixelModule();
  }

 private:
  uint16_t U16(size_t at) const {
    const uint8_t a = b_[at], c = b_[at + 1];
    return big_ ? static_cast<uint16_t>(a << 8 | c) : static_cast<uint16_t>(c << 8 | a);
  }
  uint32_t U32(size_t at) const {
    return big_ ? static_cast<uint32_t>(U16(at)) << 16 | U16(at + 2) : U16(at) | static_cast<uint32_t>(U16(at + 2)) << 16;
  }
  absl::Status Bad(size_t at, uint16_t g, uint16_t e, const std::string& what) const {
    return absl::DataLossError(absl::StrFormat("%s: DICOM element (%04x,%04x) at offset %d %s", name_, g, e, at, what));
  }

  // Elements in [*pos, end); an undefined-length item ends at its delimiter.
  absl::Status DataSet(size_t* pos, size_t end, int depth, bool in_undefined_item, bool meta_only) {
    if (depth > kMaxDepth) return absl::DataLossError(absl::StrCat(name_, ": DICOM sequences nested deeper than ", kMaxDepth));
    while (*pos < end) {
      const size_t at = *pos;
      if (end - at < 8) return absl::DataLossError(absl::StrFormat("%s: DICOM data ends inside an element at offset %d", name_, at));
      // The meta group is always little endian.
      const bool saved_big = big_;
      if (meta_only) big_ = false;
      const uint16_t g = U16(at), e = U16(at + 2);
      if (meta_only && g != 0x0002) {
        big_ = saved_big;
        return absl::OkStatus();
      }
      if (g == 0xFFFE) {
        big_ = saved_big;
        if (e == 0xE00D && in_undefined_item) {  // item delimitation
          *pos = at + 8;
          return absl::OkStatus();
        }
        return Bad(at, g, e, "is a sequence delimiter outside a sequence");
      }
      size_t value;
      uint32_t len;
      bool sq = false, implicit = !(explicit_ || g == 0x0002);
      std::string vr;
      if (!implicit) {
        vr = std::string(b_.substr(at + 4, 2));
        if (!IsVr(vr)) return Bad(at, g, e, absl::StrCat("has no value representation ('", absl::CEscape(vr), "')"));
        if (LongLengthVr(vr)) {
          if (end - at < 12) return Bad(at, g, e, "is cut off");
          len = U32(at + 8);
          value = at + 12;
        } else {
          len = U16(at + 6);
          value = at + 8;
        }
        sq = vr == "SQ";
      } else {
        len = U32(at + 4);
        value = at + 8;
      }
      if (g == 0x0002 && e == 0x0010 && len != kUndefined && len <= end - value) {
        syntax_ = std::string(b_.substr(value, len));
        while (!syntax_.empty() && (syntax_.back() == '\0' || syntax_.back() == ' ')) syntax_.pop_back();
      }
      big_ = saved_big;
      if (!implicit) {
        if (const char* want = PixelModuleVr(g, e); want != nullptr && vr != want) {
          return Bad(at, g, e, absl::StrCat("has VR ", vr, ", the standard says ", want));
        }
      }
      if (len == kUndefined) {
        // Undefined lengths: sequences, UN, and encapsulated pixel data only.
        const bool pixel_data = g == 0x7FE0 && e == 0x0010;
        if (!implicit && !sq && vr != "UN" && !(pixel_data && (vr == "OB" || vr == "OW"))) {
          return Bad(at, g, e, absl::StrCat("has an undefined length with VR ", vr));
        }
        if (!meta_only) Record(g, e, value, len, depth);
        *pos = value;
        absl::Status s = Sequence(pos, end, depth + 1, /*fragments=*/g == 0x7FE0 && e == 0x0010);
        if (!s.ok()) return s;
        continue;
      }
      if (len > end - value) {
        return Bad(at, g, e, absl::StrFormat("declares %d bytes, only %d remain%s", len, end - value,
                                               in_undefined_item || depth > 0 ? " in its sequence" : " in the file"));
      }
      if (!meta_only) Record(g, e, value, len, depth);
      // A defined-length sequence: its items' lengths are checked too (in
      // implicit VR a sequence is recognised by its first item tag).
      if (sq || (implicit && len >= 8 && U16(value) == 0xFFFE && U16(value + 2) == 0xE000)) {
        size_t inner = value;
        absl::Status s = Sequence(&inner, value + len, depth + 1, false);
        if (!s.ok()) return s;
      }
      *pos = value + len;
    }
    if (in_undefined_item) return absl::DataLossError(absl::StrCat(name_, ": a DICOM item has no delimiter"));
    return absl::OkStatus();
  }

  // Items until a sequence delimiter (undefined length) or `end`.
  absl::Status Sequence(size_t* pos, size_t end, int depth, bool fragments) {
    if (depth > kMaxDepth) return absl::DataLossError(absl::StrCat(name_, ": DICOM sequences nested deeper than ", kMaxDepth));
    while (*pos < end) {
      const size_t at = *pos;
      if (end - at < 8) return absl::DataLossError(absl::StrFormat("%s: DICOM sequence cut off at offset %d", name_, at));
      const uint16_t g = U16(at), e = U16(at + 2);
      const uint32_t len = U32(at + 4);
      if (g != 0xFFFE) return Bad(at, g, e, "stands where a sequence item should");
      if (e == 0xE0DD) {  // sequence delimitation
        *pos = at + 8;
        return absl::OkStatus();
      }
      if (e != 0xE000) return Bad(at, g, e, "stands where a sequence item should");
      *pos = at + 8;
      if (len == kUndefined) {
        if (fragments) return Bad(at, g, e, "is a pixel data fragment of undefined length");
        absl::Status s = DataSet(pos, end, depth, /*in_undefined_item=*/true, false);
        if (!s.ok()) return s;
        continue;
      }
      if (len > end - *pos) {
        return Bad(at, g, e, absl::StrFormat("(an item) declares %d bytes, only %d remain", len, end - *pos));
      }
      if (!fragments) {
        size_t inner = *pos;
        absl::Status s = DataSet(&inner, *pos + len, depth, false, false);
        if (!s.ok()) return s;
      }
      *pos += len;
    }
    return absl::OkStatus();
  }

  // Image Pixel module values of the top-level data set (-1 = absent).
  absl::Status CheckPixelModule() const {
    auto bad = [&](const std::string& what) {
      return absl::InvalidArgumentError(absl::StrCat(name_, ": DICOM ", what));
    };
    if (spp_ != -1 && spp_ != 1 && spp_ != 3 && spp_ != 4) return bad(absl::StrCat("Samples per Pixel (0028,0002) is ", spp_));
    if (allocated_ != -1 && allocated_ != 8 && allocated_ != 16) {
      return bad(absl::StrCat("Bits Allocated (0028,0100) is ", allocated_, " (8 and 16 are read)"));
    }
    const int alloc = allocated_ == -1 ? 16 : allocated_;
    if (stored_ != -1 && (stored_ < 1 || stored_ > alloc)) return bad(absl::StrCat("Bits Stored (0028,0101) is ", stored_));
    if (high_bit_ != -1 && high_bit_ >= alloc) return bad(absl::StrCat("High Bit (0028,0102) is ", high_bit_));
    if (representation_ != -1 && representation_ > 1) {
      return bad(absl::StrCat("Pixel Representation (0028,0103) is ", representation_));
    }
    if (planar_ != -1 && planar_ > 1) return bad(absl::StrCat("Planar Configuration (0028,0006) is ", planar_));
    if (frames_ == -2) return bad("Number of Frames (0028,0008) is not a count in [1, 100000]");
    if (rows_ > 0 && columns_ > 0 && static_cast<int64_t>(rows_) * columns_ > kMaxDecodedPixels) {
      return bad(absl::StrCat("image of ", columns_, " x ", rows_, " pixels exceeds the limit of ", kMaxDecodedPixels));
    }
    if (bad_us_) return bad(absl::StrCat("Image Pixel element (0028,", absl::Hex(bad_us_tag_, absl::kZeroPad4),
                                         ") is not one 16-bit value"));
    // Without Pixel Data GDCM falls back to its ACR-NEMA reader, which
    // asserts on a Recognition Code it does not know.
    if (!has_pixel_data_) return bad("file has no Pixel Data (7fe0,0010)");
    if (has_recognition_ && !recognition_ok_) {
      return bad("Recognition Code (0008,0010) is not ACR-NEMA's (a retired element; this file is malformed)");
    }
    // GDCM decodes anything but MONOCHROME1/2 on a path that asserts on
    // malformed data; grayscale radiographs are the only images read anyway.
    if (has_pixel_data_) {
      if (photometric_.empty()) return bad("Photometric Interpretation (0028,0004) is missing");
      if (photometric_ != "MONOCHROME1" && photometric_ != "MONOCHROME2") {
        return absl::UnimplementedError(absl::StrCat(name_, ": DICOM photometric interpretation '",
                                                     absl::CEscape(photometric_),
                                                     "' (grayscale radiographs are MONOCHROME1 or MONOCHROME2)"));
      }
    }
    // Uncompressed pixel data must hold the whole image (GDCM asserts when it
    // runs out while copying it).
    if (has_pixel_data_ && !encapsulated_ && rows_ > 0 && columns_ > 0) {
      const int64_t frames = std::max<int64_t>(1, frames_);
      const int64_t need = static_cast<int64_t>(rows_) * columns_ * frames * std::max(1, spp_) *
                           ((allocated_ == -1 ? 16 : allocated_) / 8);
      if (static_cast<int64_t>(pixel_bytes_) < need) {
        return bad(absl::StrCat("Pixel Data (7fe0,0010) holds ", pixel_bytes_, " bytes; ", columns_, " x ", rows_, " x ",
                                frames, " frames needs ", need));
      }
    }
    return absl::OkStatus();
  }

  void Record(uint16_t g, uint16_t e, size_t value, uint32_t len, int depth) {
    if (depth != 0) return;
    if (g == 0x7FE0 && e == 0x0010) {
      has_pixel_data_ = true;
      encapsulated_ = len == kUndefined;
      pixel_bytes_ = encapsulated_ ? 0 : len;
      return;
    }
    if (g == 0x0008 && e == 0x0010) {  // Recognition Code (retired, ACR-NEMA)
      has_recognition_ = true;
      const absl::string_view v = b_.substr(value, len);
      recognition_ok_ = absl::StartsWith(v, "ACR-NEMA") || absl::StartsWith(v, "ACRNEMA") || absl::StartsWith(v, "MIPS 2.0");
      return;
    }
    if (g != 0x0028) return;
    if (e == 0x0004 || e == 0x0008) {  // Photometric Interpretation (CS), Number of Frames (IS)
      std::string text(b_.substr(value, std::min<uint32_t>(len, 64)));
      while (!text.empty() && (text.back() == ' ' || text.back() == '\0')) text.pop_back();
      while (!text.empty() && text.front() == ' ') text.erase(text.begin());
      if (e == 0x0004) {
        photometric_ = text;
      } else if (!absl::SimpleAtoi(text, &frames_) || frames_ < 1 || frames_ > 100000) {
        frames_ = -2;  // checked below
      }
      return;
    }
    int* slot = e == 0x0002 ? &spp_ : e == 0x0006 ? &planar_ : e == 0x0010 ? &rows_ : e == 0x0011 ? &columns_
              : e == 0x0100 ? &allocated_ : e == 0x0101 ? &stored_ : e == 0x0102 ? &high_bit_
              : e == 0x0103 ? &representation_ : nullptr;
    if (slot == nullptr) return;
    if (len != 2) {
      bad_us_ = true;
      bad_us_tag_ = e;
      return;
    }
    *slot = U16(value);
  }

  absl::string_view b_;
  std::string name_;
  bool explicit_ = true, big_ = false;
  std::string syntax_;
  int spp_ = -1, planar_ = -1, rows_ = -1, columns_ = -1, allocated_ = -1, stored_ = -1, high_bit_ = -1,
      representation_ = -1;
  bool bad_us_ = false;
  uint16_t bad_us_tag_ = 0;
  std::string photometric_;
  int64_t frames_ = -1;
  bool has_pixel_data_ = false, encapsulated_ = false;
  bool has_recognition_ = false, recognition_ok_ = false;
  uint64_t pixel_bytes_ = 0;
};

}  // namespace

absl::Status PrecheckDicom(absl::string_view bytes, const std::string& name) {
  return Walker(bytes, name).Run();
}

}  // namespace chexworld
