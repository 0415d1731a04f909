// The torch.save reader (zip container + pickle VM + tensor rebuild) on
// arbitrary bytes: never a crash, a leak or an allocation the file cannot
// back; a state dict it returns holds real tensors.
#include <cstdint>
#include <string>

#include "chexworld/models/checkpoint/torch_pickle.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view bytes(reinterpret_cast<const char*>(data), size);
  auto doc = chexworld::ReadTorchPickleFromBuffer(bytes, "fuzz.pt");
  if (!doc.ok()) return 0;
  auto sd = chexworld::StateDictOf(**doc, "fuzz.pt");
  if (sd.ok()) {
    for (const auto& [name, t] : *sd) {
      if (!t.defined()) __builtin_trap();
      if (t.numel() > 0 && t.data_ptr() == nullptr) __builtin_trap();
    }
  }
  return 0;
}
