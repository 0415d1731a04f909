// Writing shards: one file (ShardWriter) and a set with its manifest
// (ShardSetWriter). The format is in shard.h.
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
using shard_hdf5::WriteArray;
using shard_hdf5::WriteStrings;
using shard_hdf5::WriteIntAttr;
using shard_hdf5::WriteStringAttr;
using shard_hdf5::PixelTypeName;
using shard_hdf5::Crc;

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
