// Helpers shared by the fuzz targets.
#ifndef TESTS_FUZZ_FUZZ_UTIL_H_
#define TESTS_FUZZ_FUZZ_UTIL_H_

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace chexworld {

// A per-process scratch folder (under $TEST_TMPDIR or /tmp), made once.
inline const std::string& FuzzScratch() {
  static const std::string dir = [] {
    const char* base = std::getenv("TEST_TMPDIR");
    std::string d = std::string(base ? base : "/tmp") + "/chexworld_fuzz_" + std::to_string(getpid());
    std::string cmd = "mkdir -p '" + d + "'";
    if (std::system(cmd.c_str()) != 0) std::abort();
    return d;
  }();
  return dir;
}

inline std::string WriteScratch(const std::string& name, const std::string& bytes) {
  const std::string path = FuzzScratch() + "/" + name;
  FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) std::abort();
  if (!bytes.empty() && std::fwrite(bytes.data(), 1, bytes.size(), f) != bytes.size()) std::abort();
  std::fclose(f);
  return path;
}

// Splits the input at the first occurrence of `sep` (the rest empty if none).
inline void SplitInput(const std::string& in, const std::string& sep, std::string* a, std::string* b) {
  const size_t at = in.find(sep);
  *a = in.substr(0, at);
  *b = at == std::string::npos ? "" : in.substr(at + sep.size());
}

// Takes typed values off the front of a fuzz input (a small stand-in for
// libFuzzer's FuzzedDataProvider, which gcc builds do not have). Running out
// of bytes yields zeros.
class FuzzInput {
 public:
  FuzzInput(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  uint8_t Byte() { return pos_ < size_ ? data_[pos_++] : 0; }
  bool Bool() { return Byte() & 1; }
  // An integer in [lo, hi].
  int64_t Int(int64_t lo, int64_t hi) {
    uint64_t v = 0;
    for (int i = 0; i < 4; ++i) v = v << 8 | Byte();
    return lo + static_cast<int64_t>(v % static_cast<uint64_t>(hi - lo + 1));
  }
  std::string String(size_t max) {
    const size_t n = static_cast<size_t>(Int(0, static_cast<int64_t>(max)));
    std::string s;
    for (size_t i = 0; i < n; ++i) s.push_back(static_cast<char>(Byte()));
    return s;
  }
  size_t remaining() const { return size_ - pos_; }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

}  // namespace chexworld

#endif  // TESTS_FUZZ_FUZZ_UTIL_H_
