// Checkpoints keyed by parameter name, in the official PyTorch key layout.
//
//   auto sd = ReadTorchStateDict("chexworld_pretrained.pth");      // official file
//   auto enc_sd = SelectPrefix(*sd, "target_encoder.");            // strip the prefix
//   auto report = LoadStateDict(*encoder, enc_sd, LoadMode::kStrict);
//   SaveStateDict(GetStateDict(*encoder), "encoder.pt");           // torch.load-able
#ifndef CHEXWORLD_MODELS_CHECKPOINT_STATE_DICT_H_
#define CHEXWORLD_MODELS_CHECKPOINT_STATE_DICT_H_

#include <string>
#include <vector>

#include <torch/torch.h>

#include "absl/status/statusor.h"
#include "chexworld/models/checkpoint/torch_pickle.h"

namespace chexworld {

// Parameters then buffers of `module`, with `prefix` prepended to each name.
NamedTensors GetStateDict(const torch::nn::Module& module, const std::string& prefix = "");

// Entries whose name starts with `prefix`, the prefix removed.
NamedTensors SelectPrefix(const NamedTensors& tensors, const std::string& prefix);

enum class LoadMode {
  kStrict,     // every model key present with its shape, nothing extra
  kNonStrict,  // load what matches by name; shape mismatches still fail
};

struct LoadReport {
  std::vector<std::string> loaded;
  std::vector<std::string> missing;     // in the model, not in the checkpoint
  std::vector<std::string> unexpected;  // in the checkpoint, not in the model
  std::string ToString() const;
};

// Copies tensors into `module` by name (dtype converted, device kept).
// kStrict fails on any missing or unexpected key; both modes fail on a shape
// mismatch, naming the key and both shapes. Nothing is modified on failure.
absl::StatusOr<LoadReport> LoadStateDict(torch::nn::Module& module, const NamedTensors& tensors,
                                         LoadMode mode);

// Writes a dict {name: tensor} that Python's torch.load reads as a plain state
// dict (and ReadTorchStateDict reads back). Atomic: temp file + rename.
absl::Status SaveStateDict(const NamedTensors& tensors, const std::string& path);

}  // namespace chexworld

#endif  // CHEXWORLD_MODELS_CHECKPOINT_STATE_DICT_H_
