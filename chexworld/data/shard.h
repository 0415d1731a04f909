// HDF5 radiograph shards, schema version 2 (readers read versions 1 and 2).
//
// One shard file holds N images at one packed size, chunked one image per
// chunk (deflate level 1 + Fletcher-32 checksums), plus a stored CRC-32 of
// every image's pixels that the reader verifies:
//
//   /                      attrs: schema = "chexworld.radiograph_shard", schema_version = 2,
//                                 height, width, pixel_type ("uint8" | "uint16")
//   /images                [N, H, W] uint8 | uint16, chunk [1, H, W]
//   /ids                   [N] string (all strings: fixed-length, NUL-padded UTF-8)
//   /crc32                 [N] uint32 (zlib CRC-32 of each image's bytes)
//   /labels                [N, L] float32, NaN = unknown (L may be 0)
//   /label_names           [L] string
//   /masks                 [N, M, H, W] uint8 (0/1), chunk [1, M, H, W]   (only if M > 0)
//   /mask_names            [M] string
//   /patient_ids           [N] string   ("" when unknown; used for patient-level splits)
//   /splits                [N] string   "train", "val", "test", or "" (the source's own split;
//                                       version 2 and later)
//   /receipts/source_path  [N] string   original file
//   /receipts/original_hw  [N, 2] int32 original height, width
//   /receipts/bits_stored  [N] int32
//   /receipts/photometric  [N] string   MONOCHROME1/2, GRAY, RGB
//   /receipts/windowing    [N] string   what mapped stored values to [0, 1]
//   /receipts/crop_box     [N, 4] int32 y, x, h, w kept after border removal (original pixels)
//   /receipts/content_box  [N, 4] int32 y, x, h, w of the image inside the packed frame
//
// Python: h5py.File(path)["images"][i] is the i-th image; see README.
// A manifest (shard.proto, text format) lists the shards of a data set.
#ifndef CHEXWORLD_DATA_SHARD_H_
#define CHEXWORLD_DATA_SHARD_H_

#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "chexworld/data/image.h"
#include "chexworld/data/shard.pb.h"

namespace chexworld {

inline constexpr char kShardSchemaName[] = "chexworld.radiograph_shard";
inline constexpr int kShardSchemaVersion = 2;
inline constexpr int kOldestShardSchemaVersion = 1;  // version 1: no /splits

enum class PixelType { kUint8, kUint16 };

struct ShardSchema {
  int height = 0;
  int width = 0;
  PixelType pixel_type = PixelType::kUint8;
  std::vector<std::string> label_names;
  std::vector<std::string> mask_names;
};

// How a record was made from its source file.
struct Receipt {
  std::string source_path;
  int original_height = 0, original_width = 0;
  int bits_stored = 8;
  std::string photometric;
  std::string windowing;
  Box crop_box;     // in original pixels
  Box content_box;  // in packed pixels
};

struct ShardRecord {
  std::string id;
  std::string patient_id;           // "" when unknown
  std::string split;                // "train", "val", "test" or "" (the source's own split)
  GrayImage image;                  // already at the schema's size, [0, 1]
  std::vector<float> labels;        // schema.label_names.size(), NaN = unknown
  std::vector<uint8_t> masks;       // M * H * W, 0/1 (empty when M = 0)
  Receipt receipt;
};

// Writes one shard. Records are buffered and written by Close().
class ShardWriter {
 public:
  static absl::StatusOr<std::unique_ptr<ShardWriter>> Create(const std::string& path, const ShardSchema& schema);
  // InvalidArgument naming the record id for a wrong size or label count.
  absl::Status Add(ShardRecord record);
  int64_t size() const { return static_cast<int64_t>(records_.size()); }
  // Writes the file (temp + rename) and returns its manifest entry.
  absl::StatusOr<ShardEntry> Close();

 private:
  ShardWriter(std::string path, ShardSchema schema) : path_(std::move(path)), schema_(std::move(schema)) {}
  std::string path_;
  ShardSchema schema_;
  std::vector<ShardRecord> records_;
};

// One decoded sample.
struct ShardSample {
  std::string id;
  std::string patient_id;
  std::string split;           // "" when the shard stores none
  uint32_t crc32 = 0;          // of the stored pixels (exact duplicates share it)
  GrayImage image;
  std::vector<float> labels;
  std::vector<uint8_t> masks;  // M * H * W
};

// Random access to one shard. Thread-safe (HDF5 calls are serialised). Open
// trusts the file's HDF5 metadata; ShardedDataset verifies files first.
class ShardReader {
 public:
  static absl::StatusOr<std::unique_ptr<ShardReader>> Open(const std::string& path);
  ~ShardReader();
  int64_t size() const { return size_; }
  const ShardSchema& schema() const { return schema_; }
  // Verifies the stored CRC-32; DataLoss naming the file and index on mismatch.
  absl::Status Read(int64_t index, ShardSample* out) const;
  absl::StatusOr<Receipt> ReadReceipt(int64_t index) const;
  // The stored split of an image ("" for version 1), without reading pixels.
  const std::string& split(int64_t index) const;
  // Closes the HDF5 file (its caches go with it); the next read reopens it.
  void Close() const;

 private:
  ShardReader() = default;
  absl::Status EnsureOpenLocked() const;  // under mu_
  std::string path_;
  mutable long long file_ = -1;
  mutable long long images_ = -1;
  int64_t size_ = 0;
  ShardSchema schema_;
  std::vector<std::string> ids_;
  std::vector<std::string> patients_;  // empty when the shard has none
  std::vector<std::string> splits_;    // empty for version 1
  std::vector<uint32_t> crc_;
  std::vector<float> labels_;  // N * L, read once
  mutable std::mutex mu_;
};

// A data set over the shards of a manifest: global index -> (shard, local).
class ShardedDataset {
 public:
  // `verify` (default) checks every shard's size and CRC-32 against the
  // manifest before HDF5 opens it: HDF5 can crash on corrupt metadata, so only
  // turn it off for shards you trust (it costs one sequential read per shard).
  static absl::StatusOr<std::unique_ptr<ShardedDataset>> Open(const std::string& manifest_path, bool verify = true);
  int64_t size() const { return total_; }
  const ShardManifest& manifest() const { return manifest_; }
  const std::vector<std::string>& label_names() const { return label_names_; }
  absl::Status Read(int64_t index, ShardSample* out) const;
  const std::string& split(int64_t index) const;

 private:
  ShardManifest manifest_;
  std::vector<std::string> label_names_;
  std::vector<std::unique_ptr<ShardReader>> shards_;
  std::vector<int64_t> offsets_;  // cumulative sizes
  int64_t total_ = 0;
  static constexpr size_t kMaxOpenShards = 8;
  mutable std::mutex lru_mu_;
  mutable std::list<size_t> open_;  // shards with an open file, most recently read first
};

// Writes records into shards of at most `shard_size` images under `dir`
// (shard-00000.h5, ...) and the manifest (manifest.textproto).
class ShardSetWriter {
 public:
  ShardSetWriter(std::string dir, ShardSchema schema, int shard_size, std::string provenance);
  absl::Status Add(ShardRecord record);
  // The packer's rules, recorded in the manifest.
  void set_packing(const PackingRules& rules) { *manifest_.mutable_packing() = rules; }
  absl::StatusOr<ShardManifest> Finish();

 private:
  absl::Status FlushShard();
  std::string dir_;
  ShardSchema schema_;
  int shard_size_;
  ShardManifest manifest_;
  std::unique_ptr<ShardWriter> current_;
};

absl::StatusOr<uint32_t> FileCrc32(const std::string& path, int64_t* bytes = nullptr);

}  // namespace chexworld

#endif  // CHEXWORLD_DATA_SHARD_H_
