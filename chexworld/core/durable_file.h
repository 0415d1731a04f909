// Files that survive kills and full disks: checkpoints and exports.
//
// DurableFile streams bytes into `<path>.tmp`, then Commit() fsyncs it, writes
// a sidecar `<path>.crc32` ("crc32 <8 hex> bytes <n>"), renames the file into
// place and fsyncs the directory. A kill at any moment leaves either the old
// state or the complete new file; a failed write (ENOSPC, EIO) removes the
// temporary, returns an error naming the path and errno, and touches nothing
// else. VerifyDurableFile checks a file against its sidecar before a reader
// parses it (truncation, bit rot, a copy cut short). Torch-free.
#ifndef CHEXWORLD_CORE_DURABLE_FILE_H_
#define CHEXWORLD_CORE_DURABLE_FILE_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace chexworld {

struct DurableFileOptions {
  // Fail points (core/failpoints.h): reached once per file when it is
  // created (enospc: the file's writes fail after its first chunk, as on a
  // full disk), after the temporary is complete, and after the rename.
  const char* write_point = nullptr;
  const char* written_point = nullptr;
  const char* committed_point = nullptr;
};

class DurableFile {
 public:
  static absl::StatusOr<std::unique_ptr<DurableFile>> Create(const std::string& path, DurableFileOptions options = {});
  ~DurableFile();  // removes the temporary unless committed
  DurableFile(const DurableFile&) = delete;
  DurableFile& operator=(const DurableFile&) = delete;

  // Appends. Always returns n: after the first error the bytes are dropped
  // and status() says what failed. (The signature is
  // torch::serialize::OutputArchive::save_to's writer callback, and libtorch's
  // zip writer must never see a short write: it then throws again from its
  // destructor and the process aborts.) Check status() or Commit() after.
  size_t Write(const void* data, size_t n);
  const absl::Status& status() const { return status_; }
  absl::Status Commit();

  const std::string& path() const { return path_; }
  int64_t bytes() const { return bytes_; }

 private:
  DurableFile(std::string path, DurableFileOptions options, int fd);
  absl::Status Fail(const std::string& what, int err);

  std::string path_, tmp_;
  DurableFileOptions options_;
  int fd_ = -1;
  uint32_t crc_ = 0;
  int64_t bytes_ = 0;
  bool committed_ = false;
  bool disk_full_ = false;  // an enospc fail point is armed for this file
  int64_t writes_ = 0;
  absl::Status status_;
};

// The sidecar's path for `path`.
std::string SidecarPath(const std::string& path);

// OK when `path` matches its sidecar; DataLoss naming the path, sizes and
// CRCs when it does not or the file is missing. Files without a sidecar
// (written by older versions) pass with *has_sidecar = false.
absl::Status VerifyDurableFile(const std::string& path, bool* has_sidecar = nullptr);

// Removes `path` and its sidecar (missing files are fine).
void RemoveDurableFile(const std::string& path);

}  // namespace chexworld

#endif  // CHEXWORLD_CORE_DURABLE_FILE_H_
