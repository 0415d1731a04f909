// Reading shards: one file (ShardReader), a set through its manifest
// (ShardedDataset), and the CRC-32 of a whole file. The format is in shard.h;
// writing is shard_writer.cc.
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
#include "chexworld/data/shard_hdf5.h"

namespace chexworld {

using shard_hdf5::H5Handle;
using shard_hdf5::SilenceHdf5;
using shard_hdf5::ReadStrings;
using shard_hdf5::ReadNumeric;
using shard_hdf5::ReadIntAttr;
using shard_hdf5::ReadStringAttr;
using shard_hdf5::Crc;

namespace {

// The images dataset without a chunk cache: a chunk is one image, read once
// per pass and decompressed on each read anyway. HDF5's default (1 MB per open
// dataset) kept the last images read of every shard, so memory grew with the
// number of shards a pass had touched.
hid_t OpenImages(hid_t file) {
  H5Handle dapl(H5Pcreate(H5P_DATASET_ACCESS), H5Pclose);
  H5Pset_chunk_cache(dapl.get(), 0, 0, H5D_CHUNK_CACHE_W0_DEFAULT);
  return H5Dopen2(file, "images", dapl.get());
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
  r->images_ = OpenImages(r->file_);
  if (r->images_ < 0) return fail(absl::DataLossError("no images dataset"));
  return r;
}

ShardReader::~ShardReader() { Close(); }

void ShardReader::Close() const {
  std::lock_guard<std::mutex> lock(mu_);
  if (images_ >= 0) H5Dclose(images_);
  if (file_ >= 0) H5Fclose(file_);
  images_ = file_ = -1;
}

absl::Status ShardReader::EnsureOpenLocked() const {
  if (file_ >= 0) return absl::OkStatus();
  file_ = H5Fopen(path_.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  if (file_ < 0) return absl::DataLossError(absl::StrCat(path_, ": cannot reopen the HDF5 file"));
  images_ = OpenImages(file_);
  if (images_ < 0) {
    H5Fclose(file_);
    file_ = -1;
    return absl::DataLossError(absl::StrCat(path_, ": no images dataset"));
  }
  return absl::OkStatus();
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
    RETURN_IF_ERROR(EnsureOpenLocked());
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
  RETURN_IF_ERROR(EnsureOpenLocked());
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
    reader->Close();  // reopened by the first read (kMaxOpenShards)
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
  RETURN_IF_ERROR(shards_[s]->Read(index - offsets_[s], out));
  // At most kMaxOpenShards files open: each open HDF5 file holds about half a
  // megabyte of caches, so a pass over hundreds of shards would otherwise
  // grow with the dataset. The least recently read is closed (reopened by
  // its next read).
  size_t victim = shards_.size();
  {
    std::lock_guard<std::mutex> lock(lru_mu_);
    if (open_.empty() || open_.front() != s) {
      open_.remove(s);
      open_.push_front(s);
      if (open_.size() > kMaxOpenShards) {
        victim = open_.back();
        open_.pop_back();
      }
    }
  }
  if (victim < shards_.size()) shards_[victim]->Close();
  return absl::OkStatus();
}

}  // namespace chexworld
