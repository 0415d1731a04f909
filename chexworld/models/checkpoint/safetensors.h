// Writes the safetensors format (huggingface/safetensors): an 8-byte
// little-endian header length, a JSON header {name: {dtype, shape,
// data_offsets}, "__metadata__": {...}} padded to 8 bytes, then the tensors'
// little-endian bytes back to back. Readable by `safetensors.torch.load_file`
// and any other safetensors reader; holds no code.
#ifndef CHEXWORLD_MODELS_CHECKPOINT_SAFETENSORS_H_
#define CHEXWORLD_MODELS_CHECKPOINT_SAFETENSORS_H_

#include <map>
#include <string>

#include "absl/status/status.h"
#include "chexworld/models/checkpoint/torch_pickle.h"

namespace chexworld {

// Atomic (temporary + fsync + rename). InvalidArgument naming a tensor whose
// dtype safetensors has no code for.
absl::Status SaveSafetensors(const NamedTensors& tensors, const std::string& path,
                             const std::map<std::string, std::string>& metadata = {});

}  // namespace chexworld

#endif  // CHEXWORLD_MODELS_CHECKPOINT_SAFETENSORS_H_
