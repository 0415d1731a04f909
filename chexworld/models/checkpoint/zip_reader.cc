#include "chexworld/models/checkpoint/zip_reader.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace chexworld {
namespace {

constexpr uint32_t kLocalHeader = 0x04034b50, kCentralHeader = 0x02014b50, kEnd = 0x06054b50;
constexpr uint32_t kZip64End = 0x06064b50, kZip64Locator = 0x07064b50;
constexpr size_t kMaxEntries = 1 << 20;

// Little-endian reads at an offset already checked to be in range.
uint16_t U16(absl::string_view b, uint64_t at) {
  return static_cast<uint16_t>(static_cast<uint8_t>(b[at]) | static_cast<uint8_t>(b[at + 1]) << 8);
}
uint32_t U32(absl::string_view b, uint64_t at) { return U16(b, at) | static_cast<uint32_t>(U16(b, at + 2)) << 16; }
uint64_t U64(absl::string_view b, uint64_t at) { return U32(b, at) | static_cast<uint64_t>(U32(b, at + 4)) << 32; }

// [at, at + n) lies inside b (no overflow).
bool Inside(absl::string_view b, uint64_t at, uint64_t n) { return at <= b.size() && n <= b.size() - at; }

}  // namespace

absl::StatusOr<std::unique_ptr<ZipArchive>> ZipArchive::Open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return absl::NotFoundError(absl::StrCat("cannot open ", path, ": ", std::strerror(errno)));
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return absl::InvalidArgumentError(absl::StrCat(path, " is not a regular file"));
  }
  std::unique_ptr<ZipArchive> z(new ZipArchive());
  z->path_ = path;
  if (st.st_size > 0) {
    void* m = ::mmap(nullptr, static_cast<size_t>(st.st_size), PROT_READ, MAP_PRIVATE, fd, 0);
    if (m == MAP_FAILED) {
      const int err = errno;
      ::close(fd);
      return absl::DataLossError(absl::StrCat("cannot map ", path, ": ", std::strerror(err)));
    }
    z->map_ = m;
    z->map_size_ = static_cast<size_t>(st.st_size);
    z->bytes_ = absl::string_view(static_cast<const char*>(m), z->map_size_);
  }
  ::close(fd);
  if (absl::Status s = z->Index(); !s.ok()) return s;
  return z;
}

absl::StatusOr<std::unique_ptr<ZipArchive>> ZipArchive::FromBuffer(absl::string_view bytes, const std::string& name) {
  std::unique_ptr<ZipArchive> z(new ZipArchive());
  z->path_ = name;
  z->bytes_ = bytes;
  if (absl::Status s = z->Index(); !s.ok()) return s;
  return z;
}

ZipArchive::~ZipArchive() {
  if (map_ != nullptr) ::munmap(map_, map_size_);
}

absl::Status ZipArchive::Index() {
  const absl::string_view b = bytes_;
  auto bad = [&](const std::string& what) {
    return absl::DataLossError(absl::StrCat(path_, ": not a readable torch zip archive (", what, ")"));
  };
  if (b.size() < 22) return bad(absl::StrCat("only ", b.size(), " bytes"));
  // The end record: within the last 64 KiB + 22 bytes (its comment is at most 64 KiB).
  uint64_t end = b.size();
  const uint64_t lowest = b.size() > 65557 ? b.size() - 65557 : 0;
  bool found = false;
  for (uint64_t at = b.size() - 22;; --at) {
    if (U32(b, at) == kEnd) {
      end = at;
      found = true;
      break;
    }
    if (at == lowest) break;
  }
  if (!found) return bad("no end-of-central-directory record");
  uint64_t count = U16(b, end + 10);
  uint64_t cd_size = U32(b, end + 12);
  uint64_t cd_offset = U32(b, end + 16);
  if (count == 0xFFFF || cd_size == 0xFFFFFFFF || cd_offset == 0xFFFFFFFF) {
    // zip64: the locator sits right before the end record.
    if (end < 20 || U32(b, end - 20) != kZip64Locator) return bad("zip64 sizes without a zip64 locator");
    const uint64_t z64 = U64(b, end - 20 + 8);
    if (!Inside(b, z64, 56) || U32(b, z64) != kZip64End) return bad("zip64 end record out of place");
    count = U64(b, z64 + 32);
    cd_size = U64(b, z64 + 40);
    cd_offset = U64(b, z64 + 48);
  }
  if (!Inside(b, cd_offset, cd_size)) {
    return bad(absl::StrCat("central directory at ", cd_offset, " + ", cd_size, " bytes beyond the file's ", b.size()));
  }
  if (count > kMaxEntries || count > cd_size / 46) return bad(absl::StrCat("implausible entry count ", count));
  uint64_t at = cd_offset;
  for (uint64_t i = 0; i < count; ++i) {
    if (!Inside(b, at, 46) || at + 46 > cd_offset + cd_size || U32(b, at) != kCentralHeader) {
      return bad(absl::StrCat("central directory entry ", i, " is damaged"));
    }
    const uint16_t method = U16(b, at + 10);
    Entry e;
    e.crc = U32(b, at + 16);
    uint64_t compressed = U32(b, at + 20);
    e.size = U32(b, at + 24);
    const uint16_t name_len = U16(b, at + 28), extra_len = U16(b, at + 30), comment_len = U16(b, at + 32);
    e.offset = U32(b, at + 42);
    if (!Inside(b, at + 46, static_cast<uint64_t>(name_len) + extra_len + comment_len)) {
      return bad(absl::StrCat("central directory entry ", i, " runs past the file"));
    }
    std::string name(b.substr(at + 46, name_len));
    // zip64 extended information: the 64-bit values of the saturated fields, in order.
    uint64_t x = at + 46 + name_len;
    const uint64_t x_end = x + extra_len;
    while (x + 4 <= x_end) {
      const uint16_t id = U16(b, x), len = U16(b, x + 2);
      if (x + 4 + len > x_end) return bad(absl::StrCat("entry '", name, "': damaged extra field"));
      if (id == 0x0001) {
        uint64_t p = x + 4;
        auto take = [&](uint64_t* field) {
          if (p + 8 > x + 4 + len) return false;
          *field = U64(b, p);
          p += 8;
          return true;
        };
        if ((e.size == 0xFFFFFFFF && !take(&e.size)) || (compressed == 0xFFFFFFFF && !take(&compressed)) ||
            (e.offset == 0xFFFFFFFF && !take(&e.offset))) {
          return bad(absl::StrCat("entry '", name, "': short zip64 field"));
        }
      }
      x += 4 + len;
    }
    if (method != 0) {
      return absl::UnimplementedError(absl::StrCat(path_, ": entry '", name, "' is compressed (method ", method,
                                                   "); torch archives store entries uncompressed"));
    }
    if (compressed != e.size) return bad(absl::StrCat("entry '", name, "': stored sizes disagree"));
    if (!Inside(b, e.offset, 30) || !Inside(b, e.offset + 30, e.size)) {
      return bad(absl::StrCat("entry '", name, "' (", e.size, " bytes at ", e.offset, ") lies beyond the file's ",
                              b.size(), " bytes"));
    }
    if (entries_.count(name) > 0) return bad(absl::StrCat("entry '", name, "' appears twice"));
    entries_[name] = e;
    names_.push_back(std::move(name));
    at += 46 + static_cast<uint64_t>(name_len) + extra_len + comment_len;
  }
  return absl::OkStatus();
}

absl::StatusOr<absl::string_view> ZipArchive::Read(const std::string& name) const {
  auto it = entries_.find(name);
  if (it == entries_.end()) return absl::NotFoundError(absl::StrCat(path_, ": no record '", name, "'"));
  const Entry& e = it->second;
  const absl::string_view b = bytes_;
  if (U32(b, e.offset) != kLocalHeader) {
    return absl::DataLossError(absl::StrCat(path_, ": record '", name, "' has no local header at ", e.offset));
  }
  const uint64_t data = e.offset + 30 + U16(b, e.offset + 26) + static_cast<uint64_t>(U16(b, e.offset + 28));
  if (!Inside(b, data, e.size)) {
    return absl::DataLossError(absl::StrCat(path_, ": record '", name, "' (", e.size, " bytes at ", data,
                                            ") lies beyond the file's ", b.size(), " bytes: truncated?"));
  }
  const absl::string_view out = b.substr(data, e.size);
  uLong crc = crc32(0L, Z_NULL, 0);
  for (uint64_t done = 0; done < out.size();) {
    const uInt chunk = static_cast<uInt>(std::min<uint64_t>(out.size() - done, 1u << 30));
    crc = crc32(crc, reinterpret_cast<const Bytef*>(out.data() + done), chunk);
    done += chunk;
  }
  if (static_cast<uint32_t>(crc) != e.crc) {
    return absl::DataLossError(absl::StrFormat("%s: record '%s' fails its CRC-32 (%08x, the archive says %08x): the file is corrupt",
                                               path_, name, static_cast<uint32_t>(crc), e.crc));
  }
  return out;
}

}  // namespace chexworld
