// A reader for the zip archives torch.save writes (stored entries, zip64 for
// files over 4 GiB), for files from strangers: every offset and size read
// from the file is checked against the file before anything is read or
// allocated, compressed entries are refused (torch never compresses, and a
// deflate bomb could claim any size), and each record's CRC-32 is verified.
// The file is memory-mapped; records are views into the mapping. Torch-free.
#ifndef CHEXWORLD_MODELS_CHECKPOINT_ZIP_READER_H_
#define CHEXWORLD_MODELS_CHECKPOINT_ZIP_READER_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace chexworld {

class ZipArchive {
 public:
  // Maps and indexes `path`; DataLoss naming the path and the defect.
  static absl::StatusOr<std::unique_ptr<ZipArchive>> Open(const std::string& path);
  // The same over bytes the caller keeps alive (tests, fuzzing); `name` is
  // used in messages.
  static absl::StatusOr<std::unique_ptr<ZipArchive>> FromBuffer(absl::string_view bytes, const std::string& name);
  ~ZipArchive();
  ZipArchive(const ZipArchive&) = delete;
  ZipArchive& operator=(const ZipArchive&) = delete;

  // Entry names in central-directory order.
  const std::vector<std::string>& names() const { return names_; }
  bool Has(const std::string& name) const { return entries_.count(name) > 0; }
  // The entry's bytes after checking its local header and CRC-32.
  absl::StatusOr<absl::string_view> Read(const std::string& name) const;
  uint64_t size() const { return bytes_.size(); }
  const std::string& path() const { return path_; }

 private:
  struct Entry {
    uint64_t offset = 0;  // of the local header
    uint64_t size = 0;
    uint32_t crc = 0;
  };
  ZipArchive() = default;
  absl::Status Index();

  std::string path_;
  absl::string_view bytes_;
  void* map_ = nullptr;
  size_t map_size_ = 0;
  std::map<std::string, Entry> entries_;
  std::vector<std::string> names_;
};

}  // namespace chexworld

#endif  // CHEXWORLD_MODELS_CHECKPOINT_ZIP_READER_H_
