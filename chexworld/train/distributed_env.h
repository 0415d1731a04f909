// Where a data-parallel process learns its place: the variables torchrun-style
// launchers set (RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR,
// MASTER_PORT; //experiments:launch sets these too) or, without them, SLURM's
// (SLURM_PROCID, SLURM_NTASKS, SLURM_LOCALID, SLURM_TASKS_PER_NODE and the first
// host of SLURM_JOB_NODELIST). Rank 0 hosts the c10d TCPStore at
// MASTER_ADDR:MASTER_PORT (env:// rendezvous). Torch-free.
#ifndef CHEXWORLD_TRAIN_DISTRIBUTED_ENV_H_
#define CHEXWORLD_TRAIN_DISTRIBUTED_ENV_H_

#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace chexworld {

struct DistributedEnv {
  int rank = 0;
  int world_size = 1;
  int local_rank = 0;
  int local_world_size = 1;
  std::string master_addr;  // the rendezvous store's host
  int master_port = 0;
  std::string source;       // "torchrun", "slurm", or "" (one process)
  // torchrun's agent already hosts the store (TORCHELASTIC_USE_AGENT_STORE=True):
  // every rank connects as a client, under "/worker/attempt_<restart count>".
  bool use_agent_store = false;
  int restart_count = 0;
  bool enabled() const { return world_size > 1; }
  std::string store_address() const { return master_addr + ":" + std::to_string(master_port); }
};

// The default MASTER_PORT under SLURM without MASTER_PORT: 20000 + job id mod
// 20000, so two jobs whose first node is the same rarely collide.
int SlurmDefaultPort(int64_t job_id);

// From the process environment; world size 1 when no launcher set anything.
// InvalidArgument naming the variable when a value is missing or out of range.
absl::StatusOr<DistributedEnv> DistributedFromEnvironment();
// The same over any lookup (tests).
absl::StatusOr<DistributedEnv> DistributedFromVariables(const std::function<const char*(const char*)>& get);

// The first host of a SLURM host list: "gpu[03-05,9],cpu1" -> "gpu03".
absl::StatusOr<std::string> FirstSlurmHost(absl::string_view nodelist);
// Tasks on node `node` from SLURM_TASKS_PER_NODE: "2(x3),1" -> node 3 has 1.
absl::StatusOr<int> SlurmTasksOnNode(absl::string_view tasks_per_node, int node);

}  // namespace chexworld

#endif  // CHEXWORLD_TRAIN_DISTRIBUTED_ENV_H_
