// Data-parallel training on torch.distributed (c10d): one process per rank,
// started by //experiments:launch, which sets CHEXWORLD_RANK,
// CHEXWORLD_WORLD_SIZE and CHEXWORLD_STORE (a c10d FileStore path for the
// rendezvous). ProcessGroupGloo carries the collectives (CPU tensors; it also
// handles CUDA tensors, more slowly than NCCL, which this build does not wire).
#ifndef CHEXWORLD_TRAIN_DISTRIBUTED_H_
#define CHEXWORLD_TRAIN_DISTRIBUTED_H_

#include <memory>
#include <vector>

#include <torch/torch.h>

#include "absl/status/statusor.h"

namespace chexworld {

struct DistributedEnv {
  int rank = 0;
  int world_size = 1;
  std::string store;  // FileStore path
  bool enabled() const { return world_size > 1; }
};

// From the launcher's environment variables; world size 1 when they are absent.
absl::StatusOr<DistributedEnv> DistributedFromEnvironment();

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int world_size() const = 0;
  // Averages the tensors over ranks, in place (one flattened all-reduce).
  virtual void AllReduceMean(const std::vector<torch::Tensor>& tensors) = 0;
  virtual void Barrier() = 0;
};

// A single-process communicator for world size 1, Gloo otherwise.
absl::StatusOr<std::unique_ptr<Communicator>> CreateCommunicator(const DistributedEnv& env);

}  // namespace chexworld

#endif  // CHEXWORLD_TRAIN_DISTRIBUTED_H_
