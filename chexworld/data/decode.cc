#include "chexworld/data/decode.h"

#include <jpeglib.h>
#include <png.h>

#include <csetjmp>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "chexworld/core/paths.h"
#include "chexworld/data/dicom.h"

namespace chexworld {

ImageFormat SniffFormat(const std::string& b) {
  static const unsigned char kPng[8] = {0x89, 'P', 'N', 'G', 0x0d, 0x0a, 0x1a, 0x0a};
  if (b.size() >= 8 && std::memcmp(b.data(), kPng, 8) == 0) return ImageFormat::kPng;
  if (b.size() >= 3 && static_cast<uint8_t>(b[0]) == 0xFF && static_cast<uint8_t>(b[1]) == 0xD8 &&
      static_cast<uint8_t>(b[2]) == 0xFF) {
    return ImageFormat::kJpeg;
  }
  if (b.size() >= 132 && b.compare(128, 4, "DICM") == 0) return ImageFormat::kDicom;
  // No preamble: the data set starts with a little-endian tag of group 0x0002 or 0x0008.
  if (b.size() >= 8) {
    const uint16_t group = static_cast<uint8_t>(b[0]) | (static_cast<uint8_t>(b[1]) << 8);
    if (group == 0x0002 || group == 0x0008) return ImageFormat::kDicom;
  }
  return ImageFormat::kUnknown;
}

namespace {

struct PngReadState {
  const std::string* bytes;
  size_t pos;
};

void PngRead(png_structp png, png_bytep out, png_size_t n) {
  auto* s = static_cast<PngReadState*>(png_get_io_ptr(png));
  if (s->pos + n > s->bytes->size()) png_error(png, "truncated PNG data");
  std::memcpy(out, s->bytes->data() + s->pos, n);
  s->pos += n;
}

void PngError(png_structp png, png_const_charp msg) {
  auto* err = static_cast<std::string*>(png_get_error_ptr(png));
  *err = msg;
  png_longjmp(png, 1);
}
void PngWarning(png_structp, png_const_charp) {}

}  // namespace

absl::StatusOr<DecodedImage> DecodePng(const std::string& bytes, const std::string& name) {
  std::string error;
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &error, PngError, PngWarning);
  if (png == nullptr) return absl::ResourceExhaustedError("png_create_read_struct failed");
  png_infop info = png_create_info_struct(png);
  PngReadState state{&bytes, 0};
  DecodedImage out;
  std::vector<uint16_t> samples;
  std::vector<png_bytep> rows;
  std::vector<uint8_t> raw;
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_read_struct(&png, &info, nullptr);
    return absl::DataLossError(absl::StrCat(name, ": corrupt PNG: ", error));
  }
  png_set_read_fn(png, &state, PngRead);
  png_set_user_limits(png, 65536, 65536);
  png_read_info(png, info);
  png_uint_32 w = png_get_image_width(png, info), h = png_get_image_height(png, info);
  int depth = png_get_bit_depth(png, info), color = png_get_color_type(png, info);
  if (w == 0 || h == 0) png_error(png, "zero-size image");
  if (static_cast<int64_t>(w) * h > kMaxDecodedPixels) {
    error = absl::StrCat(w, " x ", h, " pixels exceeds the limit of ", kMaxDecodedPixels, " pixels");
    png_destroy_read_struct(&png, &info, nullptr);
    return absl::InvalidArgumentError(absl::StrCat(name, ": PNG of ", error));
  }
  if (color == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
  if (color == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
  if (png_get_valid(png, info, PNG_INFO_tRNS)) png_set_tRNS_to_alpha(png);
  if (color & PNG_COLOR_MASK_ALPHA || png_get_valid(png, info, PNG_INFO_tRNS)) png_set_strip_alpha(png);
  if (depth == 16) png_set_swap(png);  // native little-endian uint16
  png_read_update_info(png, info);
  const int channels = png_get_channels(png, info);
  const int out_depth = png_get_bit_depth(png, info);
  const size_t rowbytes = png_get_rowbytes(png, info);
  raw.resize(rowbytes * h);
  rows.resize(h);
  for (png_uint_32 y = 0; y < h; ++y) rows[y] = raw.data() + y * rowbytes;
  png_read_image(png, rows.data());
  png_destroy_read_struct(&png, &info, nullptr);

  out.format = "png";
  out.bits_stored = out_depth;
  out.photometric = channels >= 3 ? "RGB" : "GRAY";
  out.image = GrayImage(static_cast<int>(h), static_cast<int>(w));
  const double maxv = out_depth == 16 ? 65535.0 : 255.0;
  for (png_uint_32 y = 0; y < h; ++y) {
    for (png_uint_32 x = 0; x < w; ++x) {
      double v[3];
      for (int c = 0; c < std::min(channels, 3); ++c) {
        const size_t i = (static_cast<size_t>(x) * channels + c);
        v[c] = out_depth == 16 ? reinterpret_cast<const uint16_t*>(rows[y])[i] : rows[y][i];
      }
      // ITU-R 601 luma, as PIL's convert('L').
      double g = channels >= 3 ? (0.299 * v[0] + 0.587 * v[1] + 0.114 * v[2]) : v[0];
      out.image.at(y, x) = static_cast<float>(g / maxv);
    }
  }
  return out;
}

namespace {

struct JpegError {
  jpeg_error_mgr mgr;
  jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

void JpegExit(j_common_ptr cinfo) {
  auto* err = reinterpret_cast<JpegError*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, err->message);
  longjmp(err->jump, 1);
}
void JpegOutput(j_common_ptr) {}

}  // namespace

absl::StatusOr<DecodedImage> DecodeJpeg(const std::string& bytes, const std::string& name) {
  jpeg_decompress_struct cinfo;
  JpegError err;
  cinfo.err = jpeg_std_error(&err.mgr);
  err.mgr.error_exit = JpegExit;
  err.mgr.output_message = JpegOutput;
  // Every C++ object lives before setjmp: libjpeg reports errors by longjmp,
  // which would skip the destructors of objects made after it.
  DecodedImage out;
  std::vector<uint8_t> row;
  if (setjmp(err.jump)) {
    jpeg_destroy_decompress(&cinfo);
    return absl::DataLossError(absl::StrCat(name, ": corrupt JPEG: ", err.message));
  }
  jpeg_create_decompress(&cinfo);
  jpeg_mem_src(&cinfo, reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size());
  if (jpeg_read_header(&cinfo, TRUE) != JPEG_HEADER_OK) {
    jpeg_destroy_decompress(&cinfo);
    return absl::DataLossError(absl::StrCat(name, ": no JPEG header"));
  }
  if (static_cast<int64_t>(cinfo.image_width) * cinfo.image_height > kMaxDecodedPixels) {
    jpeg_destroy_decompress(&cinfo);
    return absl::InvalidArgumentError(absl::StrCat(name, ": JPEG of ", cinfo.image_width, " x ", cinfo.image_height,
                                                   " pixels exceeds the limit of ", kMaxDecodedPixels, " pixels"));
  }
  out.photometric = cinfo.num_components >= 3 ? "RGB" : "GRAY";
  cinfo.out_color_space = JCS_GRAYSCALE;  // libjpeg converts YCbCr -> Y (luma)
  jpeg_start_decompress(&cinfo);
  const int w = cinfo.output_width, h = cinfo.output_height;
  if (w <= 0 || h <= 0 || cinfo.output_components != 1) {
    jpeg_destroy_decompress(&cinfo);
    return absl::DataLossError(absl::StrCat(name, ": unsupported JPEG layout"));
  }
  row.resize(w);
  out.image = GrayImage(h, w);
  while (cinfo.output_scanline < cinfo.output_height) {
    JSAMPROW rp = row.data();
    const int y = cinfo.output_scanline;
    jpeg_read_scanlines(&cinfo, &rp, 1);
    for (int x = 0; x < w; ++x) out.image.at(y, x) = row[x] / 255.0f;
  }
  const bool warned = err.mgr.num_warnings > 0;
  jpeg_finish_decompress(&cinfo);
  jpeg_destroy_decompress(&cinfo);
  if (warned) {
    // libjpeg pads truncated data with grey and only warns: treat as corrupt.
    return absl::DataLossError(absl::StrCat(name, ": corrupt or truncated JPEG data"));
  }
  out.format = "jpeg";
  out.bits_stored = 8;
  return out;
}

absl::StatusOr<DecodedImage> DecodeImageBytes(const std::string& bytes, const std::string& name) {
  if (bytes.empty()) return absl::InvalidArgumentError(absl::StrCat(name, ": empty file"));
  switch (SniffFormat(bytes)) {
    case ImageFormat::kPng:
      return DecodePng(bytes, name);
    case ImageFormat::kJpeg:
      return DecodeJpeg(bytes, name);
    case ImageFormat::kDicom:
      return DecodeDicomBytes(bytes, name);
    default:
      return absl::InvalidArgumentError(absl::StrCat(name, ": not a PNG, JPEG or DICOM file"));
  }
}

absl::StatusOr<DecodedImage> DecodeImageFile(const std::string& path) {
  auto bytes = ReadFile(path);
  if (!bytes.ok()) return bytes.status();
  return DecodeImageBytes(*bytes, path);
}

namespace {

void PngWrite(png_structp png, png_bytep data, png_size_t n) {
  static_cast<std::string*>(png_get_io_ptr(png))->append(reinterpret_cast<const char*>(data), n);
}
void PngFlush(png_structp) {}

absl::StatusOr<std::string> EncodePng(const uint8_t* data, int height, int width, int channels) {
  std::string out, error;
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &error, PngError, PngWarning);
  png_infop info = png_create_info_struct(png);
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    return absl::InternalError(absl::StrCat("PNG encode failed: ", error));
  }
  png_set_write_fn(png, &out, PngWrite, PngFlush);
  png_set_IHDR(png, info, width, height, 8, channels == 3 ? PNG_COLOR_TYPE_RGB : PNG_COLOR_TYPE_GRAY,
               PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  for (int y = 0; y < height; ++y) {
    png_write_row(png, const_cast<png_bytep>(data + static_cast<size_t>(y) * width * channels));
  }
  png_write_end(png, nullptr);
  png_destroy_write_struct(&png, &info);
  return out;
}

}  // namespace

absl::StatusOr<std::string> EncodePng8(const GrayImage& image) {
  auto bytes = ToUint8(image);
  return EncodePng(bytes.data(), image.height, image.width, 1);
}

absl::StatusOr<std::string> EncodePngRgb(const std::vector<uint8_t>& rgb, int height, int width) {
  if (rgb.size() != static_cast<size_t>(height) * width * 3) return absl::InvalidArgumentError("bad RGB size");
  return EncodePng(rgb.data(), height, width, 3);
}

absl::StatusOr<std::string> EncodeJpeg8(const GrayImage& image, int quality) {
  if (image.empty()) return absl::InvalidArgumentError("EncodeJpeg8: empty image");
  const std::vector<uint8_t> bytes = ToUint8(image);
  jpeg_compress_struct cinfo;
  JpegError err;
  unsigned char* out = nullptr;
  unsigned long size = 0;  // NOLINT(runtime/int): libjpeg's type
  // As in the decoder: nothing with a destructor is made after setjmp.
  cinfo.err = jpeg_std_error(&err.mgr);
  err.mgr.error_exit = JpegExit;
  err.mgr.output_message = JpegOutput;
  if (setjmp(err.jump)) {
    jpeg_destroy_compress(&cinfo);
    free(out);
    return absl::InternalError(absl::StrCat("EncodeJpeg8: ", err.message));
  }
  jpeg_create_compress(&cinfo);
  jpeg_mem_dest(&cinfo, &out, &size);
  cinfo.image_width = static_cast<JDIMENSION>(image.width);
  cinfo.image_height = static_cast<JDIMENSION>(image.height);
  cinfo.input_components = 1;
  cinfo.in_color_space = JCS_GRAYSCALE;
  jpeg_set_defaults(&cinfo);
  jpeg_set_quality(&cinfo, quality, TRUE);
  jpeg_start_compress(&cinfo, TRUE);
  while (cinfo.next_scanline < cinfo.image_height) {
    JSAMPROW row = const_cast<JSAMPROW>(bytes.data() + static_cast<size_t>(cinfo.next_scanline) * image.width);
    jpeg_write_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_compress(&cinfo);
  jpeg_destroy_compress(&cinfo);
  std::string encoded(reinterpret_cast<const char*>(out), size);
  free(out);
  return encoded;
}

}  // namespace chexworld
