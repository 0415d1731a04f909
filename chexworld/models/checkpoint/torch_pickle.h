// Reader for files written by Python's torch.save (zip format) and by
// torch::pickle_save, including the official CheXWorld checkpoints: a state
// dict saved as collections.OrderedDict (which libtorch's own unpickler cannot
// read) or {'model': state_dict, 'epoch': ..., 'args': Namespace(...)}.
//
// A small pickle virtual machine (protocols 2-4) rebuilds tensors from the
// zip's storages; objects it does not know (argparse.Namespace, ...) are kept
// as opaque values so the tensors around them still load.
#ifndef CHEXWORLD_MODELS_CHECKPOINT_TORCH_PICKLE_H_
#define CHEXWORLD_MODELS_CHECKPOINT_TORCH_PICKLE_H_

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <torch/torch.h>

#include "absl/status/statusor.h"

namespace chexworld {

// A value from the pickle stream.
struct PickleValue {
  enum class Kind { kNone, kBool, kInt, kFloat, kString, kBytes, kTensor, kList, kTuple, kDict, kObject, kGlobal };
  Kind kind = Kind::kNone;
  bool b = false;
  int64_t i = 0;
  double f = 0;
  std::string s;  // string, bytes, or "module.name" of a global/object
  torch::Tensor tensor;
  std::vector<std::shared_ptr<PickleValue>> items;  // list/tuple items; object args
  std::vector<std::pair<std::shared_ptr<PickleValue>, std::shared_ptr<PickleValue>>> dict;  // ordered

  const PickleValue* Get(const std::string& key) const;  // dict lookup by string key
};

// Reads `path` (a torch zip archive) into its top-level value.
absl::StatusOr<std::shared_ptr<PickleValue>> ReadTorchPickle(const std::string& path);

// Name -> tensor, in file order.
using NamedTensors = std::vector<std::pair<std::string, torch::Tensor>>;

// The tensors of a checkpoint: the state dict itself, or the one under
// 'model' / 'state_dict' when the top level holds one. Non-tensor top-level
// scalars (epoch, ...) are returned in `scalars` when given.
absl::StatusOr<NamedTensors> ReadTorchStateDict(const std::string& path,
                                                std::map<std::string, double>* scalars = nullptr);

}  // namespace chexworld

#endif  // CHEXWORLD_MODELS_CHECKPOINT_TORCH_PICKLE_H_
