// Data-parallel training on torch.distributed (c10d): one process per rank,
// started by //experiments:launch, torchrun or srun (distributed_env.h says
// which variables each sets). Rank 0 hosts a TCPStore at MASTER_ADDR:MASTER_PORT
// (env:// rendezvous); ProcessGroupGloo (CPU) or ProcessGroupNCCL (CUDA builds,
// run.distributed_backend) carries the collectives.
//
// Failure: every rank bumps a heartbeat counter in the store once a second.
// When a collective fails (a peer's connections close as it dies, or
// run.collective_timeout_s passes), the survivor compares the counters over a
// few seconds and its error names the ranks whose heartbeat stopped, so a
// `kill -9` of one rank stops the others at once with "lost rank 1".
#ifndef CHEXWORLD_TRAIN_DISTRIBUTED_H_
#define CHEXWORLD_TRAIN_DISTRIBUTED_H_

#include <memory>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "absl/status/statusor.h"
#include "chexworld/train/distributed_env.h"

namespace chexworld {

struct CommunicatorOptions {
  std::string backend = "auto";       // run.distributed_backend: auto | gloo | nccl
  double rendezvous_timeout_s = 300;  // joining the store and the group
  double collective_timeout_s = 300;  // one all-reduce or barrier
  torch::Device device = torch::kCPU;
};

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int world_size() const = 0;
  virtual std::string backend() const = 0;
  // Averages the tensors over ranks, in place (one flattened all-reduce).
  // Unavailable naming the lost ranks when a peer is gone.
  virtual absl::Status AllReduceMean(const std::vector<torch::Tensor>& tensors) = 0;
  virtual absl::Status Barrier() = 0;
};

// True when this build can make ProcessGroupNCCL (a CUDA libtorch with NCCL
// headers found at build time; see third_party/torch/libtorch.bzl).
bool BuiltWithNccl();

// "gloo" or "nccl" for `requested` on `device`: auto = NCCL on CUDA devices
// when built with it, Gloo otherwise. InvalidArgument naming
// run.distributed_backend for nccl without NCCL or on a CPU device.
absl::StatusOr<std::string> ResolveBackend(const std::string& requested, const torch::Device& device);

// A single-process communicator for world size 1; otherwise joins the group
// (Unavailable naming MASTER_ADDR:MASTER_PORT and the timeout when the store
// cannot be reached).
absl::StatusOr<std::unique_ptr<Communicator>> CreateCommunicator(const DistributedEnv& env,
                                                                 const CommunicatorOptions& options);

}  // namespace chexworld

#endif  // CHEXWORLD_TRAIN_DISTRIBUTED_H_
