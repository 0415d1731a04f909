#include "chexworld/train/tensorboard.h"

#include <chrono>
#include <cstring>
#include <ctime>

#include "absl/strings/str_cat.h"
#include "chexworld/core/paths.h"

namespace chexworld {
namespace {

const uint32_t* Crc32cTable() {
  static uint32_t table[256];
  static const bool init = [] {
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
      table[i] = c;
    }
    return true;
  }();
  (void)init;
  return table;
}

double Now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace

uint32_t Crc32c(const char* data, size_t n) {
  const uint32_t* t = Crc32cTable();
  uint32_t c = 0xFFFFFFFFu;
  for (size_t i = 0; i < n; ++i) c = t[(c ^ static_cast<uint8_t>(data[i])) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

uint32_t MaskedCrc32c(const char* data, size_t n) {
  const uint32_t c = Crc32c(data, n);
  return ((c >> 15) | (c << 17)) + 0xa282ead8u;
}

absl::StatusOr<std::unique_ptr<EventWriter>> EventWriter::Create(const std::string& dir) {
  if (auto s = MakeDirectories(dir); !s.ok()) return s;
  std::unique_ptr<EventWriter> w(new EventWriter());
  w->path_ = absl::StrCat(dir, "/events.out.tfevents.", static_cast<int64_t>(std::time(nullptr)), ".chexworld");
  w->out_.open(w->path_, std::ios::binary | std::ios::app);
  if (!w->out_) return absl::PermissionDeniedError(absl::StrCat("cannot write ", w->path_));
  tensorboard::Event e;
  e.set_wall_time(Now());
  e.set_file_version("brain.Event:2");
  w->Write(e);
  return w;
}

void EventWriter::Write(const tensorboard::Event& event) {
  const std::string data = event.SerializeAsString();
  const uint64_t len = data.size();
  char header[8];
  std::memcpy(header, &len, 8);  // little-endian hosts
  const uint32_t len_crc = MaskedCrc32c(header, 8), data_crc = MaskedCrc32c(data.data(), data.size());
  out_.write(header, 8);
  out_.write(reinterpret_cast<const char*>(&len_crc), 4);
  out_.write(data.data(), static_cast<std::streamsize>(data.size()));
  out_.write(reinterpret_cast<const char*>(&data_crc), 4);
}

void EventWriter::AddScalars(int64_t step, const std::map<std::string, double>& scalars) {
  tensorboard::Event e;
  e.set_wall_time(Now());
  e.set_step(step);
  for (const auto& [tag, v] : scalars) {
    auto* value = e.mutable_summary()->add_value();
    value->set_tag(tag);
    value->set_simple_value(static_cast<float>(v));
  }
  Write(e);
}

absl::StatusOr<std::vector<tensorboard::Event>> ReadEvents(const std::string& path) {
  auto bytes = ReadFile(path);
  if (!bytes.ok()) return bytes.status();
  std::vector<tensorboard::Event> events;
  size_t pos = 0;
  const std::string& b = *bytes;
  while (pos < b.size()) {
    if (pos + 12 > b.size()) return absl::DataLossError(absl::StrCat(path, ": truncated record header at ", pos));
    uint64_t len;
    uint32_t len_crc, data_crc;
    std::memcpy(&len, b.data() + pos, 8);
    std::memcpy(&len_crc, b.data() + pos + 8, 4);
    if (MaskedCrc32c(b.data() + pos, 8) != len_crc) return absl::DataLossError(absl::StrCat(path, ": bad length CRC at ", pos));
    if (pos + 12 + len + 4 > b.size()) return absl::DataLossError(absl::StrCat(path, ": truncated record at ", pos));
    std::memcpy(&data_crc, b.data() + pos + 12 + len, 4);
    if (MaskedCrc32c(b.data() + pos + 12, len) != data_crc) return absl::DataLossError(absl::StrCat(path, ": bad data CRC at ", pos));
    tensorboard::Event e;
    if (!e.ParseFromArray(b.data() + pos + 12, static_cast<int>(len))) {
      return absl::DataLossError(absl::StrCat(path, ": unparsable event at ", pos));
    }
    events.push_back(std::move(e));
    pos += 12 + len + 4;
  }
  return events;
}

}  // namespace chexworld
