// Data-parallel training on torch.distributed (c10d): one process per rank,
// started by //experiments:launch, torchrun or srun (distributed_env.h says
// which variables each sets). Rank 0 hosts a TCPStore at MASTER_ADDR:MASTER_PORT
// (env:// rendezvous); ProcessGroupGloo (CPU) or ProcessGroupNCCL (CUDA builds,
// run.distributed_backend) carries the collectives.
//
// Device rule: every tensor given to a collective must be dense and live on
// the group's device (CommunicatorOptions.device), as NCCL demands; the
// communicator checks this itself, for every backend and for world size 1
// too, and fails naming the tensor before the backend sees it. A CPU-only
// build thus holds callers to the rule that a CUDA build with NCCL enforces.
//
// Failure: every rank bumps a heartbeat counter in the store once a second.
// A failed collective is classified truthfully: a refused argument
// (InvalidArgument: a defect, no rank is lost), a timeout with every
// heartbeat still advancing (DeadlineExceeded: a rank is slow or stuck), or a
// lost peer (Unavailable naming the ranks whose heartbeat stopped, so a
// `kill -9` of one rank stops the others at once with "lost rank 1").
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
  torch::Device device = torch::kCPU;  // the group's device: every collective's tensors live here
};

// How a collective failed, from the backend's exception.
enum class CollectiveError { kInvalidArgument, kTimeout, kPeerFailure };
// `invalid_type`: the exception was c10::ValueError / TypeError or
// std::invalid_argument. Otherwise the message decides ("timed out",
// "timeout", "Timeout" -> timeout; "must be", "invalid", "expected" ->
// invalid argument); anything else is a peer failure.
CollectiveError ClassifyCollectiveError(const std::string& message, bool invalid_type);

// OK when every tensor is defined, dense (strided) and on `device`;
// otherwise InvalidArgument naming `what`, the tensor's name (names[i], or
// its index) and both devices. `names` may be empty.
absl::Status CheckCollectiveTensors(const std::vector<torch::Tensor>& tensors, const torch::Device& device,
                                    const std::string& what, const std::vector<std::string>& names);

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int world_size() const = 0;
  virtual std::string backend() const = 0;
  // Averages the tensors over ranks, in place (one flattened all-reduce).
  // `what` names them in errors ("loss terms"), `names` each one (optional).
  // InvalidArgument when a tensor breaks the device rule (checked first, for
  // world size 1 too); DeadlineExceeded on a timeout with every rank alive;
  // Unavailable naming the lost ranks when a peer is gone.
  virtual absl::Status AllReduceMean(const std::vector<torch::Tensor>& tensors, const std::string& what,
                                     const std::vector<std::string>& names = {}) = 0;
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
