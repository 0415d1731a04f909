// Reader for files written by Python's torch.save (zip format) and by
// torch::pickle_save, including the official CheXWorld checkpoints: a state
// dict saved as collections.OrderedDict (which libtorch's own unpickler cannot
// read) or {'model': state_dict, 'epoch': ..., 'args': Namespace(...)}.
//
// Safe for files from strangers. A small pickle virtual machine (protocols
// 2-5) rebuilds tensors from the archive's storages and never runs code: a
// global outside kAllowedPickleGlobals (the tensor and storage rebuilders,
// collections.OrderedDict, TorchScript's container tags, and inert values an
// official checkpoint carries such as argparse.Namespace) fails with an error
// naming it. Every size in the file (records, strings, tensor shapes, strides
// and offsets) is checked against the file before anything is allocated, and
// the archive's CRC-32s are verified (zip_reader.h). Allowed objects that are
// not tensors (argparse.Namespace, numpy scalars) are kept as inert values
// so the tensors around them still load.
#ifndef CHEXWORLD_MODELS_CHECKPOINT_TORCH_PICKLE_H_
#define CHEXWORLD_MODELS_CHECKPOINT_TORCH_PICKLE_H_

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <torch/torch.h>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace chexworld {

// A value from the pickle stream. Values are owned by the document that
// ReadTorchPickle returns; containers point at their items (a stream may
// share values through its memo, or even make cycles).
struct PickleValue {
  enum class Kind { kNone, kBool, kInt, kFloat, kString, kBytes, kTensor, kList, kTuple, kDict, kObject, kGlobal };
  Kind kind = Kind::kNone;
  bool b = false;
  int64_t i = 0;
  double f = 0;
  std::string s;  // string, bytes, or "module.name" of a global/object
  torch::Tensor tensor;
  std::vector<const PickleValue*> items;  // list/tuple items; object args
  std::vector<std::pair<const PickleValue*, const PickleValue*>> dict;  // ordered

  const PickleValue* Get(const std::string& key) const;  // dict lookup by string key
};

// The globals a stream may name ("module.name"); anything else is refused.
extern const char* const kAllowedPickleGlobals[];

// Reads `path` (a torch zip archive) into its top-level value (which keeps
// the whole document alive).
absl::StatusOr<std::shared_ptr<const PickleValue>> ReadTorchPickle(const std::string& path);
// The same over an archive's bytes (tests, fuzzing); `name` is used in messages.
absl::StatusOr<std::shared_ptr<const PickleValue>> ReadTorchPickleFromBuffer(absl::string_view bytes,
                                                                           const std::string& name);

// Name -> tensor, in file order.
using NamedTensors = std::vector<std::pair<std::string, torch::Tensor>>;

// The tensors of a checkpoint: the state dict itself, or the one under
// 'model' / 'state_dict' when the top level holds one. Non-tensor top-level
// scalars (epoch, ...) are returned in `scalars` when given.
absl::StatusOr<NamedTensors> ReadTorchStateDict(const std::string& path,
                                                std::map<std::string, double>* scalars = nullptr);
// The state dict of a document (ReadTorchPickle's result); `path` for messages.
absl::StatusOr<NamedTensors> StateDictOf(const PickleValue& top, const std::string& path,
                                         std::map<std::string, double>* scalars = nullptr);

}  // namespace chexworld

#endif  // CHEXWORLD_MODELS_CHECKPOINT_TORCH_PICKLE_H_
