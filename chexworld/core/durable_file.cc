#include "chexworld/core/durable_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "chexworld/core/failpoints.h"
#include "chexworld/core/paths.h"

namespace chexworld {
namespace {

std::string Dirname(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
}

absl::Status ErrnoStatus(int err, const std::string& message) {
  const std::string text = absl::StrCat(message, ": ", std::strerror(err));
  if (err == ENOSPC || err == EDQUOT) return absl::ResourceExhaustedError(text);
  if (err == EACCES || err == EPERM || err == EROFS) return absl::PermissionDeniedError(text);
  return absl::DataLossError(text);
}

// 0, or the errno of the failed write.
int WriteAll(int fd, const char* p, size_t n) {
  while (n > 0) {
    const ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
  return 0;
}

}  // namespace

std::string SidecarPath(const std::string& path) { return path + ".crc32"; }

DurableFile::DurableFile(std::string path, DurableFileOptions options, int fd)
    : path_(std::move(path)), tmp_(path_ + ".tmp"), options_(options), fd_(fd) {
  crc_ = static_cast<uint32_t>(crc32(0L, Z_NULL, 0));
}

absl::StatusOr<std::unique_ptr<DurableFile>> DurableFile::Create(const std::string& path, DurableFileOptions options) {
  const std::string tmp = path + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoStatus(errno, absl::StrCat("cannot create ", tmp));
  std::unique_ptr<DurableFile> f(new DurableFile(path, options, fd));
  // An enospc fail point counts files: this one fails after its first chunk.
  f->disk_full_ = options.write_point != nullptr && !Failpoint(options.write_point, path).ok();
  return f;
}

DurableFile::~DurableFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_) ::unlink(tmp_.c_str());
}

absl::Status DurableFile::Fail(const std::string& what, int err) {
  if (status_.ok()) status_ = ErrnoStatus(err, absl::StrCat("cannot write ", path_, " (", what, ")"));
  return status_;
}

size_t DurableFile::Write(const void* data, size_t n) {
  if (!status_.ok() || committed_) return n;
  if (disk_full_ && writes_ > 0) {
    // As a full disk: part of the bytes land, then the write fails.
    WriteAll(fd_, static_cast<const char*>(data), n / 2);
    // Sticky: Commit() returns it.
    Fail(absl::StrCat("after ", bytes_, " bytes"), ENOSPC).IgnoreError();
    return n;
  }
  ++writes_;
  if (const int err = WriteAll(fd_, static_cast<const char*>(data), n); err != 0) {
    Fail(absl::StrCat("after ", bytes_, " bytes"), err).IgnoreError();  // sticky, as above
    return n;
  }
  crc_ = static_cast<uint32_t>(crc32(crc_, static_cast<const Bytef*>(data), static_cast<uInt>(n)));
  bytes_ += static_cast<int64_t>(n);
  return n;
}

absl::Status DurableFile::Commit() {
  if (!status_.ok()) return status_;
  if (disk_full_) return Fail("fsync", ENOSPC);  // delayed allocation fails here
  if (::fsync(fd_) != 0) return Fail("fsync", errno);
  if (::close(fd_) != 0) {
    fd_ = -1;
    return Fail("close", errno);
  }
  fd_ = -1;
  if (options_.written_point != nullptr) Failpoint(options_.written_point, path_).IgnoreError();
  // The sidecar first: a kill before the rename leaves an orphan sidecar,
  // never a file without its record.
  const std::string record = absl::StrFormat("crc32 %08x bytes %d\n", crc_, bytes_);
  if (absl::Status s = WriteFileAtomically(SidecarPath(path_), record); !s.ok()) {
    status_ = s;
    return status_;
  }
  if (std::rename(tmp_.c_str(), path_.c_str()) != 0) return Fail(absl::StrCat("rename from ", tmp_), errno);
  committed_ = true;
  const int dir = ::open(Dirname(path_).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
  if (options_.committed_point != nullptr) Failpoint(options_.committed_point, path_).IgnoreError();
  return absl::OkStatus();
}

absl::Status VerifyDurableFile(const std::string& path, bool* has_sidecar) {
  if (has_sidecar != nullptr) *has_sidecar = false;
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return ErrnoStatus(errno, absl::StrCat("cannot open ", path));
  auto record = ReadFile(SidecarPath(path));
  if (!record.ok()) return absl::OkStatus();  // written before sidecars existed
  if (has_sidecar != nullptr) *has_sidecar = true;
  std::vector<std::string> f = absl::StrSplit(*record, absl::ByAnyChar(" \n"), absl::SkipEmpty());
  uint32_t want_crc = 0;
  int64_t want_bytes = -1;
  if (f.size() != 4 || f[0] != "crc32" || f[2] != "bytes" || !absl::SimpleHexAtoi(f[1], &want_crc) ||
      !absl::SimpleAtoi(f[3], &want_bytes)) {
    return absl::DataLossError(absl::StrCat(SidecarPath(path), ": unreadable record '", *record, "'"));
  }
  if (static_cast<int64_t>(st.st_size) != want_bytes) {
    return absl::DataLossError(absl::StrCat(path, " is ", st.st_size, " bytes, its record (", SidecarPath(path),
                                            ") says ", want_bytes, ": truncated or overwritten"));
  }
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus(errno, absl::StrCat("cannot open ", path));
  uLong crc = crc32(0L, Z_NULL, 0);
  std::unique_ptr<char[]> buf(new char[1 << 20]);
  while (true) {
    const ssize_t n = ::read(fd, buf.get(), 1 << 20);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      return ErrnoStatus(err, absl::StrCat("cannot read ", path));
    }
    if (n == 0) break;
    crc = crc32(crc, reinterpret_cast<const Bytef*>(buf.get()), static_cast<uInt>(n));
  }
  ::close(fd);
  if (static_cast<uint32_t>(crc) != want_crc) {
    return absl::DataLossError(absl::StrFormat("%s has CRC-32 %08x, its record (%s) says %08x: the file is corrupt",
                                               path, static_cast<uint32_t>(crc), SidecarPath(path), want_crc));
  }
  return absl::OkStatus();
}

void RemoveDurableFile(const std::string& path) {
  std::remove(path.c_str());
  std::remove(SidecarPath(path).c_str());
}

}  // namespace chexworld
