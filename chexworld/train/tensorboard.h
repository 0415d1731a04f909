// Scalar metrics as TensorBoard event files (TFRecord framing with masked
// CRC-32C, Event/Summary protos), written with the Protobuf runtime already
// linked: `tensorboard --logdir runs/` shows the curves.
#ifndef CHEXWORLD_TRAIN_TENSORBOARD_H_
#define CHEXWORLD_TRAIN_TENSORBOARD_H_

#include <cstdint>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "chexworld/train/tensorboard.pb.h"

namespace chexworld {

uint32_t Crc32c(const char* data, size_t n);
uint32_t MaskedCrc32c(const char* data, size_t n);

class EventWriter {
 public:
  // Creates <dir>/events.out.tfevents.<unix time>.chexworld and writes the
  // file-version event.
  static absl::StatusOr<std::unique_ptr<EventWriter>> Create(const std::string& dir);
  void AddScalars(int64_t step, const std::map<std::string, double>& scalars);
  void Flush() { out_.flush(); }
  const std::string& path() const { return path_; }

 private:
  void Write(const tensorboard::Event& event);
  std::string path_;
  std::ofstream out_;
};

// Reads back every event of a file, checking the framing CRCs (for tests and tools).
absl::StatusOr<std::vector<tensorboard::Event>> ReadEvents(const std::string& path);

}  // namespace chexworld

#endif  // CHEXWORLD_TRAIN_TENSORBOARD_H_
