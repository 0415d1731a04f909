#include "chexworld/data/shard.h"

#include <hdf5.h>
#include <zlib.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <tuple>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "chexworld/core/config.h"
#include "chexworld/core/paths.h"
#include "chexworld/core/status_macros.h"

namespace chexworld {
namespace {

// Closes an HDF5 handle on scope exit.
class H5Handle {
 public:
  H5Handle(hid_t id, herr_t (*close)(hid_t)) : id_(id), close_(close) {}
  ~H5Handle() {
    if (id_ >= 0) close_(id_);
  }
  H5Handle(const H5Handle&) = delete;
  H5Handle& operator=(const H5Handle&) = delete;
  hid_t get() const { return id_; }
  bool ok() const { return id_ >= 0; }

 private:
  hid_t id_;
  herr_t (*close_)(hid_t);
};

void SilenceHdf5() {
  static const bool once = [] {
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    return true;
  }();
  (void)once;
}

absl::Status WriteArray(hid_t loc, const std::string& name, hid_t type, const std::vector<hsize_t>& dims,
                        const void* data, hid_t dcpl = H5P_DEFAULT) {
  H5Handle space(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr), H5Sclose);
  H5Handle ds(H5Dcreate2(loc, name.c_str(), type, space.get(), H5P_DEFAULT, dcpl, H5P_DEFAULT), H5Dclose);
  if (!ds.ok()) return absl::InternalError(absl::StrCat("cannot create dataset ", name));
  if (H5Dwrite(ds.get(), type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0) {
    return absl::InternalError(absl::StrCat("cannot write dataset ", name));
  }
  return absl::OkStatus();
}

// Upper bound on one metadata array read: corrupt sizes fail instead of allocating.
constexpr uint64_t kMaxArrayBytes = uint64_t{1} << 32;

// Strings are fixed-length (NUL-padded) byte arrays: a corrupt file then
// yields wrong bytes, never a crash in HDF5's variable-length heap code.
absl::Status WriteStrings(hid_t loc, const std::string& name, const std::vector<std::string>& values) {
  size_t len = 1;
  for (const auto& v : values) len = std::max(len, v.size() + 1);
  std::vector<char> buf(values.size() * len, '\0');
  for (size_t i = 0; i < values.size(); ++i) std::memcpy(&buf[i * len], values[i].data(), values[i].size());
  H5Handle type(H5Tcopy(H5T_C_S1), H5Tclose);
  H5Tset_size(type.get(), len);
  H5Tset_strpad(type.get(), H5T_STR_NULLPAD);
  H5Tset_cset(type.get(), H5T_CSET_UTF8);
  hsize_t n = values.size();
  H5Handle space(H5Screate_simple(1, &n, nullptr), H5Sclose);
  H5Handle ds(H5Dcreate2(loc, name.c_str(), type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
              H5Dclose);
  if (!ds.ok()) return absl::InternalError(absl::StrCat("cannot create dataset ", name));
  if (n > 0 && H5Dwrite(ds.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, buf.data()) < 0) {
    return absl::InternalError(absl::StrCat("cannot write dataset ", name));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> ReadStrings(hid_t loc, const std::string& name) {
  H5Handle ds(H5Dopen2(loc, name.c_str(), H5P_DEFAULT), H5Dclose);
  if (!ds.ok()) return absl::NotFoundError(absl::StrCat("no dataset ", name));
  H5Handle space(H5Dget_space(ds.get()), H5Sclose);
  H5Handle file_type(H5Dget_type(ds.get()), H5Tclose);
  hssize_t n = H5Sget_simple_extent_npoints(space.get());
  if (n < 0 || H5Tget_class(file_type.get()) != H5T_STRING || H5Tis_variable_str(file_type.get()) != 0) {
    return absl::DataLossError(absl::StrCat(name, " is not a fixed-length string dataset"));
  }
  const size_t len = H5Tget_size(file_type.get());
  if (len == 0 || len > (1 << 20) || static_cast<uint64_t>(n) * len > kMaxArrayBytes) return absl::DataLossError(absl::StrCat(name, ": implausible string size"));
  std::vector<std::string> out(n);
  if (n == 0) return out;
  std::vector<char> buf(static_cast<size_t>(n) * len);
  H5Handle type(H5Tcopy(H5T_C_S1), H5Tclose);
  H5Tset_size(type.get(), len);
  H5Tset_strpad(type.get(), H5T_STR_NULLPAD);
  H5Tset_cset(type.get(), H5Tget_cset(file_type.get()));
  if (H5Dread(ds.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, buf.data()) < 0) {
    return absl::DataLossError(absl::StrCat("cannot read ", name));
  }
  for (hssize_t i = 0; i < n; ++i) out[i] = std::string(&buf[i * len], strnlen(&buf[i * len], len));
  return out;
}

template <typename T>
absl::StatusOr<std::vector<T>> ReadNumeric(hid_t loc, const std::string& name, hid_t mem_type,
                                           std::vector<hsize_t>* dims_out = nullptr) {
  H5Handle ds(H5Dopen2(loc, name.c_str(), H5P_DEFAULT), H5Dclose);
  if (!ds.ok()) return absl::NotFoundError(absl::StrCat("no dataset ", name));
  H5Handle space(H5Dget_space(ds.get()), H5Sclose);
  int rank = H5Sget_simple_extent_ndims(space.get());
  std::vector<hsize_t> dims(rank);
  H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr);
  if (dims_out) *dims_out = dims;
  const hssize_t n = H5Sget_simple_extent_npoints(space.get());
  if (n < 0 || static_cast<uint64_t>(n) * sizeof(T) > kMaxArrayBytes) {
    return absl::DataLossError(absl::StrCat(name, ": implausible size (", n, " elements)"));
  }
  std::vector<T> out(n);
  if (!out.empty() && H5Dread(ds.get(), mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data()) < 0) {
    return absl::DataLossError(absl::StrCat("cannot read ", name));
  }
  return out;
}

absl::Status WriteIntAttr(hid_t loc, const char* name, int64_t value) {
  H5Handle space(H5Screate(H5S_SCALAR), H5Sclose);
  H5Handle attr(H5Acreate2(loc, name, H5T_NATIVE_INT64, space.get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
  if (!attr.ok() || H5Awrite(attr.get(), H5T_NATIVE_INT64, &value) < 0) {
    return absl::InternalError(absl::StrCat("cannot write attribute ", name));
  }
  return absl::OkStatus();
}

absl::Status WriteStringAttr(hid_t loc, const char* name, const std::string& value) {
  H5Handle type(H5Tcopy(H5T_C_S1), H5Tclose);
  H5Tset_size(type.get(), value.size() + 1);
  H5Tset_strpad(type.get(), H5T_STR_NULLTERM);
  H5Handle space(H5Screate(H5S_SCALAR), H5Sclose);
  H5Handle attr(H5Acreate2(loc, name, type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
  if (!attr.ok() || H5Awrite(attr.get(), type.get(), value.c_str()) < 0) {
    return absl::InternalError(absl::StrCat("cannot write attribute ", name));
  }
  return absl::OkStatus();
}

absl::StatusOr<int64_t> ReadIntAttr(hid_t loc, const char* name) {
  H5Handle attr(H5Aopen(loc, name, H5P_DEFAULT), H5Aclose);
  int64_t v = 0;
  if (!attr.ok() || H5Aread(attr.get(), H5T_NATIVE_INT64, &v) < 0) {
    return absl::NotFoundError(absl::StrCat("attribute ", name, " missing"));
  }
  return v;
}

absl::StatusOr<std::string> ReadStringAttr(hid_t loc, const char* name) {
  H5Handle attr(H5Aopen(loc, name, H5P_DEFAULT), H5Aclose);
  if (!attr.ok()) return absl::NotFoundError(absl::StrCat("attribute ", name, " missing"));
  H5Handle file_type(H5Aget_type(attr.get()), H5Tclose);
  if (H5Tget_class(file_type.get()) != H5T_STRING || H5Tis_variable_str(file_type.get()) != 0) {
    return absl::DataLossError(absl::StrCat("attribute ", name, " is not a fixed-length string"));
  }
  const size_t len = H5Tget_size(file_type.get());
  if (len == 0 || len > 4096) return absl::DataLossError(absl::StrCat("attribute ", name, ": implausible size"));
  std::vector<char> buf(len + 1, '\0');
  if (H5Aread(attr.get(), file_type.get(), buf.data()) < 0) {
    return absl::DataLossError(absl::StrCat("cannot read attribute ", name));
  }
  return std::string(buf.data(), strnlen(buf.data(), len));
}

const char* PixelTypeName(PixelType t) { return t == PixelType::kUint16 ? "uint16" : "uint8"; }

uint32_t Crc(const void* data, size_t n) {
  return static_cast<uint32_t>(crc32(0L, static_cast<const Bytef*>(data), static_cast<uInt>(n)));
}

}  // namespace

absl::StatusOr<uint32_t> FileCrc32(const std::string& path, int64_t* bytes) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open ", path));
  uLong crc = crc32(0L, Z_NULL, 0);
  std::vector<char> buf(1 << 20);
  int64_t total = 0;
  while (in) {
    in.read(buf.data(), buf.size());
    std::streamsize n = in.gcount();
    if (n <= 0) break;
    crc = crc32(crc, reinterpret_cast<const Bytef*>(buf.data()), static_cast<uInt>(n));
    total += n;
  }
  if (bytes) *bytes = total;
  return static_cast<uint32_t>(crc);
}

absl::StatusOr<std::unique_ptr<ShardWriter>> ShardWriter::Create(const std::string& path, const ShardSchema& schema) {
  if (schema.height <= 0 || schema.width <= 0) {
    return absl::InvalidArgumentError(absl::StrCat("shard size must be positive, got ", schema.height, "x", schema.width));
  }
  return std::unique_ptr<ShardWriter>(new ShardWriter(path, schema));
}

absl::Status ShardWriter::Add(ShardRecord r) {
  if (r.image.height != schema_.height || r.image.width != schema_.width) {
    return absl::InvalidArgumentError(absl::StrCat("record '", r.id, "': image is ", r.image.height, "x", r.image.width,
                                                   ", shard expects ", schema_.height, "x", schema_.width));
  }
  if (r.labels.size() != schema_.label_names.size()) {
    return absl::InvalidArgumentError(absl::StrCat("record '", r.id, "': ", r.labels.size(), " labels, schema has ",
                                                   schema_.label_names.size()));
  }
  const size_t mask_size = schema_.mask_names.size() * schema_.height * schema_.width;
  if (r.masks.size() != mask_size) {
    return absl::InvalidArgumentError(absl::StrCat("record '", r.id, "': mask has ", r.masks.size(), " values, expected ", mask_size));
  }
  records_.push_back(std::move(r));
  return absl::OkStatus();
}

absl::StatusOr<ShardEntry> ShardWriter::Close() {
  SilenceHdf5();
  const std::string tmp = path_ + ".tmp";
  const hsize_t n = records_.size(), h = schema_.height, w = schema_.width;
  const hsize_t l = schema_.label_names.size(), m = schema_.mask_names.size();
  ShardEntry entry;
  {
    H5Handle file(H5Fcreate(tmp.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), H5Fclose);
    if (!file.ok()) return absl::PermissionDeniedError(absl::StrCat("cannot create ", tmp));
    hid_t f = file.get();
    auto ctx = [&](absl::Status s) { return AddContext(s, tmp); };
    RETURN_IF_ERROR(ctx(WriteStringAttr(f, "schema", kShardSchemaName)));
    RETURN_IF_ERROR(ctx(WriteIntAttr(f, "schema_version", kShardSchemaVersion)));
    RETURN_IF_ERROR(ctx(WriteIntAttr(f, "height", schema_.height)));
    RETURN_IF_ERROR(ctx(WriteIntAttr(f, "width", schema_.width)));
    RETURN_IF_ERROR(ctx(WriteStringAttr(f, "pixel_type", PixelTypeName(schema_.pixel_type))));

    // Images: one chunk per image, deflate 1, Fletcher-32.
    const bool u16 = schema_.pixel_type == PixelType::kUint16;
    std::vector<uint8_t> pix8;
    std::vector<uint16_t> pix16;
    std::vector<uint32_t> crcs;
    std::vector<std::string> ids, patients, splits, sources, photometric, windowing;
    std::vector<int32_t> original(n * 2), bits(n), crop(n * 4), content(n * 4);
    std::vector<float> labels(n * l);
    std::vector<uint8_t> masks(n * m * h * w);
    for (hsize_t i = 0; i < n; ++i) {
      const ShardRecord& r = records_[i];
      if (u16) {
        auto v = ToUint16(r.image);
        crcs.push_back(Crc(v.data(), v.size() * 2));
        pix16.insert(pix16.end(), v.begin(), v.end());
      } else {
        auto v = ToUint8(r.image);
        crcs.push_back(Crc(v.data(), v.size()));
        pix8.insert(pix8.end(), v.begin(), v.end());
      }
      ids.push_back(r.id);
      patients.push_back(r.patient_id);
      splits.push_back(r.split);
      if (r.split == "train") entry.set_split_train(entry.split_train() + 1);
      if (r.split == "val") entry.set_split_val(entry.split_val() + 1);
      if (r.split == "test") entry.set_split_test(entry.split_test() + 1);
      sources.push_back(r.receipt.source_path);
      photometric.push_back(r.receipt.photometric);
      windowing.push_back(r.receipt.windowing);
      original[2 * i] = r.receipt.original_height;
      original[2 * i + 1] = r.receipt.original_width;
      bits[i] = r.receipt.bits_stored;
      const Box* boxes[2] = {&r.receipt.crop_box, &r.receipt.content_box};
      int32_t* dst[2] = {&crop[4 * i], &content[4 * i]};
      for (int k = 0; k < 2; ++k) {
        dst[k][0] = boxes[k]->y, dst[k][1] = boxes[k]->x, dst[k][2] = boxes[k]->h, dst[k][3] = boxes[k]->w;
      }
      std::copy(r.labels.begin(), r.labels.end(), labels.begin() + i * l);
      std::copy(r.masks.begin(), r.masks.end(), masks.begin() + i * m * h * w);
    }
    {
      H5Handle dcpl(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
      if (n > 0) {
        hsize_t chunk[3] = {1, h, w};
        H5Pset_chunk(dcpl.get(), 3, chunk);
        H5Pset_fletcher32(dcpl.get());
        H5Pset_deflate(dcpl.get(), 1);
      }
      RETURN_IF_ERROR(ctx(WriteArray(f, "images", u16 ? H5T_NATIVE_UINT16 : H5T_NATIVE_UINT8, {n, h, w},
                                     u16 ? static_cast<const void*>(pix16.data()) : pix8.data(), dcpl.get())));
    }
    RETURN_IF_ERROR(ctx(WriteArray(f, "crc32", H5T_NATIVE_UINT32, {n}, crcs.data())));
    RETURN_IF_ERROR(ctx(WriteStrings(f, "ids", ids)));
    RETURN_IF_ERROR(ctx(WriteStrings(f, "patient_ids", patients)));
    RETURN_IF_ERROR(ctx(WriteStrings(f, "splits", splits)));
    RETURN_IF_ERROR(ctx(WriteArray(f, "labels", H5T_NATIVE_FLOAT, {n, l}, labels.data())));
    RETURN_IF_ERROR(ctx(WriteStrings(f, "label_names", schema_.label_names)));
    if (m > 0) {
      H5Handle dcpl(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
      if (n > 0) {
        hsize_t chunk[4] = {1, m, h, w};
        H5Pset_chunk(dcpl.get(), 4, chunk);
        H5Pset_fletcher32(dcpl.get());
        H5Pset_deflate(dcpl.get(), 1);
      }
      RETURN_IF_ERROR(ctx(WriteArray(f, "masks", H5T_NATIVE_UINT8, {n, m, h, w}, masks.data(), dcpl.get())));
    }
    RETURN_IF_ERROR(ctx(WriteStrings(f, "mask_names", schema_.mask_names)));
    H5Handle receipts(H5Gcreate2(f, "receipts", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Gclose);
    hid_t g = receipts.get();
    RETURN_IF_ERROR(ctx(WriteStrings(g, "source_path", sources)));
    RETURN_IF_ERROR(ctx(WriteArray(g, "original_hw", H5T_NATIVE_INT32, {n, 2}, original.data())));
    RETURN_IF_ERROR(ctx(WriteArray(g, "bits_stored", H5T_NATIVE_INT32, {n}, bits.data())));
    RETURN_IF_ERROR(ctx(WriteStrings(g, "photometric", photometric)));
    RETURN_IF_ERROR(ctx(WriteStrings(g, "windowing", windowing)));
    RETURN_IF_ERROR(ctx(WriteArray(g, "crop_box", H5T_NATIVE_INT32, {n, 4}, crop.data())));
    RETURN_IF_ERROR(ctx(WriteArray(g, "content_box", H5T_NATIVE_INT32, {n, 4}, content.data())));
    for (hsize_t k = 0; k < l; ++k) {
      int64_t pos = 0, neg = 0, unk = 0;
      for (hsize_t i = 0; i < n; ++i) {
        float v = labels[i * l + k];
        if (std::isnan(v)) ++unk;
        else if (v > 0.5f) ++pos;
        else ++neg;
      }
      entry.add_label_positive(pos);
      entry.add_label_negative(neg);
      entry.add_label_unknown(unk);
    }
  }
  if (std::rename(tmp.c_str(), path_.c_str()) != 0) {
    return absl::PermissionDeniedError(absl::StrCat("cannot rename ", tmp, " to ", path_));
  }
  int64_t bytes = 0;
  ASSIGN_OR_RETURN(uint32_t crc, FileCrc32(path_, &bytes));
  entry.set_path(path_);
  entry.set_num_images(static_cast<int64_t>(n));
  entry.set_file_bytes(bytes);
  entry.set_file_crc32(crc);
  records_.clear();
  return entry;
}

absl::StatusOr<std::unique_ptr<ShardReader>> ShardReader::Open(const std::string& path) {
  SilenceHdf5();
  std::unique_ptr<ShardReader> r(new ShardReader());
  r->path_ = path;
  r->file_ = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  if (r->file_ < 0) return absl::DataLossError(absl::StrCat(path, ": not a readable HDF5 file"));
  auto schema = ReadStringAttr(r->file_, "schema");
  if (!schema.ok() || *schema != kShardSchemaName) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": not a chexworld radiograph shard (schema attribute '",
                                                   schema.ok() ? *schema : "missing", "')"));
  }
  auto version = ReadIntAttr(r->file_, "schema_version");
  if (!version.ok() || *version < kOldestShardSchemaVersion || *version > kShardSchemaVersion) {
    return absl::FailedPreconditionError(absl::StrCat(path, ": shard schema version ", version.ok() ? *version : -1,
                                                      ", this reader reads versions ", kOldestShardSchemaVersion, " to ",
                                                      kShardSchemaVersion, "; re-pack the data with this version's packer"));
  }
  auto fail = [&](const absl::Status& s) { return AddContext(s, path); };
  auto h = ReadIntAttr(r->file_, "height");
  auto w = ReadIntAttr(r->file_, "width");
  auto pt = ReadStringAttr(r->file_, "pixel_type");
  if (!h.ok() || !w.ok() || !pt.ok()) return fail(absl::DataLossError("missing size attributes"));
  if (*h < 1 || *w < 1 || *h > 65536 || *w > 65536) {
    return fail(absl::DataLossError(absl::StrCat("implausible image size ", *h, "x", *w)));
  }
  r->schema_.height = static_cast<int>(*h);
  r->schema_.width = static_cast<int>(*w);
  r->schema_.pixel_type = *pt == "uint16" ? PixelType::kUint16 : PixelType::kUint8;
  auto ids = ReadStrings(r->file_, "ids");
  if (!ids.ok()) return fail(ids.status());
  r->ids_ = std::move(*ids);
  r->size_ = static_cast<int64_t>(r->ids_.size());
  if (H5Lexists(r->file_, "patient_ids", H5P_DEFAULT) > 0) {
    auto patients = ReadStrings(r->file_, "patient_ids");
    if (!patients.ok()) return fail(patients.status());
    if (static_cast<int64_t>(patients->size()) != r->size_) return fail(absl::DataLossError("patient_ids has the wrong length"));
    r->patients_ = std::move(*patients);
  }
  if (*version >= 2 && H5Lexists(r->file_, "splits", H5P_DEFAULT) > 0) {
    auto splits = ReadStrings(r->file_, "splits");
    if (!splits.ok()) return fail(splits.status());
    if (static_cast<int64_t>(splits->size()) != r->size_) return fail(absl::DataLossError("splits has the wrong length"));
    for (const auto& sp : *splits) {
      if (!sp.empty() && sp != "train" && sp != "val" && sp != "test") {
        return fail(absl::DataLossError(absl::StrCat("splits holds '", absl::CEscape(sp), "' (train, val, test or empty)")));
      }
    }
    r->splits_ = std::move(*splits);
  }
  auto crc = ReadNumeric<uint32_t>(r->file_, "crc32", H5T_NATIVE_UINT32);
  if (!crc.ok()) return fail(crc.status());
  r->crc_ = std::move(*crc);
  auto names = ReadStrings(r->file_, "label_names");
  if (!names.ok()) return fail(names.status());
  r->schema_.label_names = std::move(*names);
  auto mask_names = ReadStrings(r->file_, "mask_names");
  if (!mask_names.ok()) return fail(mask_names.status());
  r->schema_.mask_names = std::move(*mask_names);
  auto labels = ReadNumeric<float>(r->file_, "labels", H5T_NATIVE_FLOAT);
  if (!labels.ok()) return fail(labels.status());
  r->labels_ = std::move(*labels);
  if (r->crc_.size() != static_cast<size_t>(r->size_) ||
      r->labels_.size() != r->schema_.label_names.size() * r->size_) {
    return fail(absl::DataLossError("ids, crc32 and labels disagree on the image count"));
  }
  r->images_ = H5Dopen2(r->file_, "images", H5P_DEFAULT);
  if (r->images_ < 0) return fail(absl::DataLossError("no images dataset"));
  return r;
}

ShardReader::~ShardReader() {
  if (images_ >= 0) H5Dclose(images_);
  if (file_ >= 0) H5Fclose(file_);
}

absl::Status ShardReader::Read(int64_t index, ShardSample* out) const {
  if (index < 0 || index >= size_) {
    return absl::OutOfRangeError(absl::StrCat(path_, ": index ", index, " out of range [0, ", size_, ")"));
  }
  const hsize_t h = schema_.height, w = schema_.width, m = schema_.mask_names.size();
  const bool u16 = schema_.pixel_type == PixelType::kUint16;
  std::vector<uint8_t> raw(h * w * (u16 ? 2 : 1));
  {
    std::lock_guard<std::mutex> lock(mu_);
    H5Handle space(H5Dget_space(images_), H5Sclose);
    hsize_t start[3] = {static_cast<hsize_t>(index), 0, 0}, count[3] = {1, h, w};
    H5Sselect_hyperslab(space.get(), H5S_SELECT_SET, start, nullptr, count, nullptr);
    H5Handle mem(H5Screate_simple(3, count, nullptr), H5Sclose);
    if (H5Dread(images_, u16 ? H5T_NATIVE_UINT16 : H5T_NATIVE_UINT8, mem.get(), space.get(), H5P_DEFAULT,
                raw.data()) < 0) {
      return absl::DataLossError(absl::StrCat(path_, ": image ", index, " fails its HDF5 checksum or cannot be read"));
    }
    if (m > 0) {
      H5Handle masks(H5Dopen2(file_, "masks", H5P_DEFAULT), H5Dclose);
      H5Handle mspace(H5Dget_space(masks.get()), H5Sclose);
      hsize_t mstart[4] = {static_cast<hsize_t>(index), 0, 0, 0}, mcount[4] = {1, m, h, w};
      H5Sselect_hyperslab(mspace.get(), H5S_SELECT_SET, mstart, nullptr, mcount, nullptr);
      H5Handle mmem(H5Screate_simple(4, mcount, nullptr), H5Sclose);
      out->masks.resize(m * h * w);
      if (H5Dread(masks.get(), H5T_NATIVE_UINT8, mmem.get(), mspace.get(), H5P_DEFAULT, out->masks.data()) < 0) {
        return absl::DataLossError(absl::StrCat(path_, ": mask ", index, " cannot be read"));
      }
    } else {
      out->masks.clear();
    }
  }
  if (Crc(raw.data(), raw.size()) != crc_[index]) {
    return absl::DataLossError(absl::StrCat(path_, ": image ", index, " ('", ids_[index], "') fails its CRC-32"));
  }
  out->image = u16 ? FromUint16(reinterpret_cast<const uint16_t*>(raw.data()), h, w) : FromUint8(raw.data(), h, w);
  out->id = ids_[index];
  out->patient_id = patients_.empty() ? "" : patients_[index];
  out->split = splits_.empty() ? "" : splits_[index];
  out->crc32 = crc_[index];
  const size_t l = schema_.label_names.size();
  out->labels.assign(labels_.begin() + index * l, labels_.begin() + (index + 1) * l);
  return absl::OkStatus();
}

const std::string& ShardReader::split(int64_t index) const {
  static const std::string kNone;
  return splits_.empty() || index < 0 || index >= size_ ? kNone : splits_[index];
}

absl::StatusOr<Receipt> ShardReader::ReadReceipt(int64_t index) const {
  if (index < 0 || index >= size_) return absl::OutOfRangeError(absl::StrCat(path_, ": index ", index));
  std::lock_guard<std::mutex> lock(mu_);
  H5Handle g(H5Gopen2(file_, "receipts", H5P_DEFAULT), H5Gclose);
  if (!g.ok()) return absl::DataLossError(absl::StrCat(path_, ": no receipts"));
  Receipt r;
  ASSIGN_OR_RETURN(auto sources, ReadStrings(g.get(), "source_path"));
  ASSIGN_OR_RETURN(auto photometric, ReadStrings(g.get(), "photometric"));
  ASSIGN_OR_RETURN(auto windowing, ReadStrings(g.get(), "windowing"));
  ASSIGN_OR_RETURN(auto original, ReadNumeric<int32_t>(g.get(), "original_hw", H5T_NATIVE_INT32));
  ASSIGN_OR_RETURN(auto bits, ReadNumeric<int32_t>(g.get(), "bits_stored", H5T_NATIVE_INT32));
  ASSIGN_OR_RETURN(auto crop, ReadNumeric<int32_t>(g.get(), "crop_box", H5T_NATIVE_INT32));
  ASSIGN_OR_RETURN(auto content, ReadNumeric<int32_t>(g.get(), "content_box", H5T_NATIVE_INT32));
  // Each receipt array must cover the index (a shard from another writer may
  // be short): DataLoss naming the array, never a read past its end.
  const size_t i = static_cast<size_t>(index);
  for (const auto& [name, n, per] : std::vector<std::tuple<const char*, size_t, size_t>>{
           {"source_path", sources.size(), 1},
           {"photometric", photometric.size(), 1},
           {"windowing", windowing.size(), 1},
           {"original_hw", original.size(), 2},
           {"bits_stored", bits.size(), 1},
           {"crop_box", crop.size(), 4},
           {"content_box", content.size(), 4}}) {
    if (n < (i + 1) * per) {
      return absl::DataLossError(absl::StrCat(path_, ": receipts/", name, " has ", n / per, " entries, image ", index,
                                              " needs ", index + 1));
    }
  }
  r.source_path = sources[index];
  r.photometric = photometric[index];
  r.windowing = windowing[index];
  r.original_height = original[2 * index];
  r.original_width = original[2 * index + 1];
  r.bits_stored = bits[index];
  r.crop_box = Box{crop[4 * index], crop[4 * index + 1], crop[4 * index + 2], crop[4 * index + 3]};
  r.content_box = Box{content[4 * index], content[4 * index + 1], content[4 * index + 2], content[4 * index + 3]};
  return r;
}

absl::StatusOr<std::unique_ptr<ShardedDataset>> ShardedDataset::Open(const std::string& manifest_path, bool verify) {
  auto ds = std::make_unique<ShardedDataset>();
  RETURN_IF_ERROR(ParseTextProtoFile(manifest_path, &ds->manifest_));
  if (ds->manifest_.schema_version() < kOldestShardSchemaVersion || ds->manifest_.schema_version() > kShardSchemaVersion) {
    return absl::FailedPreconditionError(absl::StrCat(manifest_path, ": schema_version ", ds->manifest_.schema_version(),
                                                      ", this reader reads ", kOldestShardSchemaVersion, " to ",
                                                      kShardSchemaVersion));
  }
  const std::string dir = manifest_path.substr(0, manifest_path.find_last_of('/') + 1);
  ds->label_names_.assign(ds->manifest_.label_names().begin(), ds->manifest_.label_names().end());
  for (int i = 0; i < ds->manifest_.shards_size(); ++i) {
    const ShardEntry& e = ds->manifest_.shards(i);
    const std::string path = e.path().empty() || e.path()[0] == '/' ? e.path() : dir + e.path();
    if (verify) {
      int64_t bytes = 0;
      ASSIGN_OR_RETURN(uint32_t crc, FileCrc32(path, &bytes));
      if (bytes != e.file_bytes() || crc != e.file_crc32()) {
        return absl::DataLossError(absl::StrFormat("%s: shard %d (%s) has %d bytes / CRC-32 %08x, manifest says %d / %08x",
                                                   manifest_path, i, path, bytes, crc, e.file_bytes(), e.file_crc32()));
      }
    }
    ASSIGN_OR_RETURN(auto reader, ShardReader::Open(path));
    if (reader->size() != e.num_images() || reader->schema().height != ds->manifest_.height() ||
        reader->schema().width != ds->manifest_.width() ||
        reader->schema().label_names != ds->label_names_) {
      return absl::DataLossError(absl::StrCat(manifest_path, ": shard ", i, " (", path,
                                              ") disagrees with the manifest on count, size or labels"));
    }
    ds->offsets_.push_back(ds->total_);
    ds->total_ += reader->size();
    ds->shards_.push_back(std::move(reader));
  }
  return ds;
}

const std::string& ShardedDataset::split(int64_t index) const {
  static const std::string kNone;
  if (index < 0 || index >= total_) return kNone;
  size_t sh = std::upper_bound(offsets_.begin(), offsets_.end(), index) - offsets_.begin() - 1;
  return shards_[sh]->split(index - offsets_[sh]);
}

absl::Status ShardedDataset::Read(int64_t index, ShardSample* out) const {
  if (index < 0 || index >= total_) {
    return absl::OutOfRangeError(absl::StrCat("index ", index, " out of range [0, ", total_, ")"));
  }
  size_t s = std::upper_bound(offsets_.begin(), offsets_.end(), index) - offsets_.begin() - 1;
  return shards_[s]->Read(index - offsets_[s], out);
}

ShardSetWriter::ShardSetWriter(std::string dir, ShardSchema schema, int shard_size, std::string provenance)
    : dir_(std::move(dir)), schema_(std::move(schema)), shard_size_(shard_size) {
  manifest_.set_schema_version(kShardSchemaVersion);
  manifest_.set_height(schema_.height);
  manifest_.set_width(schema_.width);
  manifest_.set_pixel_type(PixelTypeName(schema_.pixel_type));
  for (const auto& n : schema_.label_names) manifest_.add_label_names(n);
  for (const auto& n : schema_.mask_names) manifest_.add_mask_names(n);
  manifest_.set_provenance(std::move(provenance));
}

absl::Status ShardSetWriter::Add(ShardRecord record) {
  if (current_ == nullptr) {
    RETURN_IF_ERROR(MakeDirectories(dir_));
    const std::string name = absl::StrFormat("shard-%05d.h5", manifest_.shards_size());
    ASSIGN_OR_RETURN(current_, ShardWriter::Create(dir_ + "/" + name, schema_));
  }
  RETURN_IF_ERROR(current_->Add(std::move(record)));
  if (current_->size() >= shard_size_) return FlushShard();
  return absl::OkStatus();
}

absl::Status ShardSetWriter::FlushShard() {
  if (current_ == nullptr) return absl::OkStatus();
  ASSIGN_OR_RETURN(ShardEntry entry, current_->Close());
  entry.set_path(entry.path().substr(entry.path().find_last_of('/') + 1));
  manifest_.set_total_images(manifest_.total_images() + entry.num_images());
  *manifest_.add_shards() = std::move(entry);
  current_.reset();
  return absl::OkStatus();
}

absl::StatusOr<ShardManifest> ShardSetWriter::Finish() {
  RETURN_IF_ERROR(FlushShard());
  RETURN_IF_ERROR(MakeDirectories(dir_));
  RETURN_IF_ERROR(WriteTextProto(manifest_, dir_ + "/manifest.textproto"));
  return manifest_;
}

}  // namespace chexworld
