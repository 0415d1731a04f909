#include "chexworld/train/distributed_env.h"

#include <cstdlib>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace chexworld {
namespace {

// Reads an integer variable; `*present` says whether it was set.
absl::Status ReadInt(const std::function<const char*(const char*)>& get, const char* name, int* out,
                     bool* present = nullptr) {
  const char* v = get(name);
  if (present != nullptr) *present = v != nullptr && *v != '\0';
  if (v == nullptr || *v == '\0') return absl::OkStatus();
  if (!absl::SimpleAtoi(v, out)) {
    return absl::InvalidArgumentError(absl::StrCat("environment variable ", name, "='", v, "' is not an integer"));
  }
  return absl::OkStatus();
}

std::string Get(const std::function<const char*(const char*)>& get, const char* name) {
  const char* v = get(name);
  return v == nullptr ? "" : v;
}

}  // namespace

int SlurmDefaultPort(int64_t job_id) { return 20000 + static_cast<int>(job_id % 20000); }

absl::StatusOr<std::string> FirstSlurmHost(absl::string_view list) {
  // The first entry ends at a comma outside brackets; inside each bracket
  // group take the first item ("03" of "03-05,9"), keeping its zero padding.
  std::string host;
  int depth = 0;
  bool took = false;
  for (size_t i = 0; i < list.size(); ++i) {
    const char c = list[i];
    if (c == '[') {
      ++depth;
      took = false;
      continue;
    }
    if (c == ']') {
      if (depth == 0) break;
      --depth;
      continue;
    }
    if (depth == 0) {
      if (c == ',') break;
      host.push_back(c);
    } else if (!took) {
      if (c == '-' || c == ',') {
        took = true;
      } else {
        host.push_back(c);
      }
    }
  }
  if (depth != 0 || host.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("cannot read the first host of SLURM_JOB_NODELIST='", list, "'"));
  }
  return host;
}

absl::StatusOr<int> SlurmTasksOnNode(absl::string_view spec, int node) {
  int seen = 0;
  for (absl::string_view part : absl::StrSplit(spec, ',', absl::SkipEmpty())) {
    int tasks = 0, repeat = 1;
    const size_t paren = part.find("(x");
    if (!absl::SimpleAtoi(part.substr(0, paren), &tasks) ||
        (paren != absl::string_view::npos &&
         (part.back() != ')' || !absl::SimpleAtoi(part.substr(paren + 2, part.size() - paren - 3), &repeat)))) {
      return absl::InvalidArgumentError(absl::StrCat("cannot read SLURM_TASKS_PER_NODE='", spec, "'"));
    }
    if (node < seen + repeat) return tasks;
    seen += repeat;
  }
  return absl::InvalidArgumentError(absl::StrCat("SLURM_TASKS_PER_NODE='", spec, "' lists ", seen,
                                                 " nodes, SLURM_NODEID is ", node));
}

absl::StatusOr<DistributedEnv> DistributedFromVariables(const std::function<const char*(const char*)>& get) {
  DistributedEnv env;
  bool has_world = false, has_rank = false;
  absl::Status s;
  if (!(s = ReadInt(get, "WORLD_SIZE", &env.world_size, &has_world)).ok()) return s;
  if (!(s = ReadInt(get, "RANK", &env.rank, &has_rank)).ok()) return s;
  if (has_world || has_rank) {
    env.source = "torchrun";
    if (!has_world || !has_rank) {
      return absl::InvalidArgumentError(absl::StrCat("RANK and WORLD_SIZE must be set together (RANK=", Get(get, "RANK"),
                                                     ", WORLD_SIZE=", Get(get, "WORLD_SIZE"), ")"));
    }
    bool has_local = false, has_local_world = false;
    if (!(s = ReadInt(get, "LOCAL_RANK", &env.local_rank, &has_local)).ok()) return s;
    if (!(s = ReadInt(get, "LOCAL_WORLD_SIZE", &env.local_world_size, &has_local_world)).ok()) return s;
    if (!has_local) env.local_rank = env.rank;
    if (!has_local_world) env.local_world_size = env.world_size;
    env.master_addr = Get(get, "MASTER_ADDR");
    bool has_port = false;
    if (!(s = ReadInt(get, "MASTER_PORT", &env.master_port, &has_port)).ok()) return s;
    const std::string agent = Get(get, "TORCHELASTIC_USE_AGENT_STORE");
    env.use_agent_store = agent == "True" || agent == "true" || agent == "1";
    if (!(s = ReadInt(get, "TORCHELASTIC_RESTART_COUNT", &env.restart_count)).ok()) return s;
    if (env.world_size > 1 && (env.master_addr.empty() || !has_port)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "WORLD_SIZE=", env.world_size, " needs MASTER_ADDR and MASTER_PORT (the rendezvous store of rank 0); got MASTER_ADDR='",
          env.master_addr, "' MASTER_PORT='", Get(get, "MASTER_PORT"), "'"));
    }
  } else if (!Get(get, "SLURM_PROCID").empty() && !Get(get, "SLURM_NTASKS").empty()) {
    env.source = "slurm";
    if (!(s = ReadInt(get, "SLURM_NTASKS", &env.world_size)).ok()) return s;
    if (!(s = ReadInt(get, "SLURM_PROCID", &env.rank)).ok()) return s;
    if (!(s = ReadInt(get, "SLURM_LOCALID", &env.local_rank)).ok()) return s;
    if (env.world_size <= 1) return DistributedEnv();  // a one-task job: a plain run
    int node = 0;
    if (!(s = ReadInt(get, "SLURM_NODEID", &node)).ok()) return s;
    const std::string tasks = Get(get, "SLURM_TASKS_PER_NODE");
    if (!tasks.empty()) {
      auto n = SlurmTasksOnNode(tasks, node);
      if (!n.ok()) return n.status();
      env.local_world_size = *n;
    } else {
      env.local_world_size = 1;
    }
    env.master_addr = Get(get, "MASTER_ADDR");
    if (env.master_addr.empty()) {
      std::string list = Get(get, "SLURM_JOB_NODELIST");
      if (list.empty()) list = Get(get, "SLURM_NODELIST");
      auto host = FirstSlurmHost(list);
      if (!host.ok()) return host.status();
      env.master_addr = *host;
    }
    bool has_port = false;
    if (!(s = ReadInt(get, "MASTER_PORT", &env.master_port, &has_port)).ok()) return s;
    if (!has_port) {
      int job = 0;
      if (!(s = ReadInt(get, "SLURM_JOB_ID", &job)).ok()) return s;
      env.master_port = SlurmDefaultPort(job);
    }
  } else {
    return env;
  }
  const char* prefix = env.source == "slurm" ? "SLURM_" : "";
  if (env.world_size < 1) {
    return absl::InvalidArgumentError(absl::StrCat(env.source == "slurm" ? "SLURM_NTASKS" : "WORLD_SIZE", "=",
                                                   env.world_size, " must be >= 1"));
  }
  if (env.rank < 0 || env.rank >= env.world_size) {
    return absl::InvalidArgumentError(absl::StrCat(env.source == "slurm" ? "SLURM_PROCID" : "RANK", "=", env.rank,
                                                   " is outside [0, ", env.world_size, ")"));
  }
  if (env.local_world_size < 1 || env.local_rank < 0 || env.local_rank >= env.local_world_size) {
    return absl::InvalidArgumentError(absl::StrCat(env.source == "slurm" ? "SLURM_LOCALID" : "LOCAL_RANK", "=",
                                                   env.local_rank, " is outside [0, ", env.local_world_size, ") (",
                                                   prefix, env.source == "slurm" ? "TASKS_PER_NODE" : "LOCAL_WORLD_SIZE",
                                                   ")"));
  }
  if (env.world_size > 1 && (env.master_port < 1 || env.master_port > 65535)) {
    return absl::InvalidArgumentError(absl::StrCat("MASTER_PORT=", env.master_port, " is not a TCP port"));
  }
  return env;
}

absl::StatusOr<DistributedEnv> DistributedFromEnvironment() {
  return DistributedFromVariables([](const char* name) { return std::getenv(name); });
}

}  // namespace chexworld
