// Starts a data-parallel run: one process of //experiments:run per rank on
// this node, with the variables torchrun sets (RANK, WORLD_SIZE, LOCAL_RANK,
// LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT). Rank 0 hosts the rendezvous
// store at MASTER_ADDR:MASTER_PORT.
//
//   One machine:
//     bazel run //experiments:launch -- --nproc=2 --run_dir=runs/ddp --
//         --config=experiments/pretrain/tiny.textproto [--set ...] [--resume]      (one line)
//   Two machines (run on each, node_rank 0 and 1; the run folder on a shared disk):
//     launch --nnodes=2 --node_rank=0 --nproc=4 --master_addr=node0 --master_port=29500 --run_dir=... -- ...
//
// Share the cores between ranks: with one rank per core, --set run.threads=1
// --set trainer.concurrent_shards=1.
//
// SIGTERM, SIGUSR1 and SIGINT are passed on to the ranks (preemption: they
// checkpoint and exit with 75). If a rank fails or is killed, the launcher
// names it, asks the others to stop, kills any still running after
// --grace_s, and exits non-zero. Exit status: 0 when every rank finished, 75
// when they were preempted, otherwise the first failing rank's status (128 +
// signal number for a killed rank).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include <gflags/gflags.h>

#include "chexworld/core/flags.h"
#include "chexworld/core/paths.h"

DEFINE_int32(nproc, 2, "processes (ranks) to start on this node");
DEFINE_int32(nnodes, 1, "nodes taking part (one launcher on each)");
DEFINE_int32(node_rank, 0, "this node's index in [0, nnodes)");
DEFINE_string(master_addr, "127.0.0.1", "host of rank 0 (node_rank 0), which hosts the rendezvous store");
DEFINE_int32(master_port, 0, "port of the rendezvous store (0 = a free port; only with --nnodes=1)");
DEFINE_string(run_dir, "", "run folder shared by the ranks (required; on a shared disk across nodes)");
DEFINE_string(runner, "", "runner binary (default: the run binary next to this one)");
DEFINE_double(grace_s, 60, "after a rank fails, seconds the others get to stop before they are killed");

namespace {

constexpr int kExitPreempted = 75;  // as chexworld::kExitPreempted (the runner's)

std::atomic<int> g_forward{0};

void OnSignal(int sig) { g_forward.store(sig); }

int FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return 0;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof(a);
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0) {
    port = ntohs(a.sin_port);
  }
  close(fd);
  return port;
}

std::string Describe(int status) {
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    return "was killed by signal " + std::to_string(WTERMSIG(status)) + " (" + strsignal(WTERMSIG(status)) + ")";
  }
  return "stopped";
}

int Code(int status) { return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status); }

}  // namespace

int main(int argc, char** argv) {
  chexworld::ParseFlags("--nproc=N [--nnodes=M --node_rank=K --master_addr=H --master_port=P] --run_dir=DIR -- "
                          "<arguments for //experiments:run>", __FILE__, &argc, &argv);
  if (FLAGS_run_dir.empty() || FLAGS_nproc < 1 || FLAGS_nnodes < 1) {
    std::cerr << "error: --run_dir, --nproc >= 1 and --nnodes >= 1 are required\n";
    return 2;
  }
  if (FLAGS_node_rank < 0 || FLAGS_node_rank >= FLAGS_nnodes) {
    std::cerr << "error: --node_rank=" << FLAGS_node_rank << " is outside [0, " << FLAGS_nnodes << ")\n";
    return 2;
  }
  int port = FLAGS_master_port;
  if (port == 0) {
    if (FLAGS_nnodes > 1) {
      std::cerr << "error: --nnodes=" << FLAGS_nnodes << " needs --master_port (the same on every node)\n";
      return 2;
    }
    port = FreePort();
    if (port == 0) {
      std::cerr << "error: cannot find a free port on 127.0.0.1; pass --master_port\n";
      return 2;
    }
  }
  if (port < 1 || port > 65535) {
    std::cerr << "error: --master_port=" << port << " is not a TCP port\n";
    return 2;
  }
  std::string runner = FLAGS_runner;
  if (runner.empty()) {
    const std::string self = argv[0];
    for (const std::string& candidate : {self + ".runfiles/chexworld/experiments/run",
                                         self.substr(0, self.find_last_of('/') + 1) + "run"}) {
      if (access(candidate.c_str(), X_OK) == 0) {
        runner = candidate;
        break;
      }
    }
  }
  if (runner.empty() || access(runner.c_str(), X_OK) != 0) {
    std::cerr << "error: cannot find the runner binary; pass --runner\n";
    return 2;
  }
  const std::string run_dir = chexworld::UserPath(FLAGS_run_dir);
  if (auto s = chexworld::MakeDirectories(run_dir); !s.ok()) {
    std::cerr << "error: " << s.message() << "\n";
    return 1;
  }
  const int world = FLAGS_nnodes * FLAGS_nproc;
  std::cerr << "launch: node " << FLAGS_node_rank << " of " << FLAGS_nnodes << ", ranks "
            << FLAGS_node_rank * FLAGS_nproc << ".." << (FLAGS_node_rank + 1) * FLAGS_nproc - 1 << " of " << world
            << ", rendezvous " << FLAGS_master_addr << ":" << port << "\n";

  for (int sig : {SIGTERM, SIGUSR1, SIGINT}) signal(sig, &OnSignal);
  std::map<pid_t, int> rank_of;
  for (int local = 0; local < FLAGS_nproc; ++local) {
    const int rank = FLAGS_node_rank * FLAGS_nproc + local;
    pid_t pid = fork();
    if (pid == 0) {
      for (int sig : {SIGTERM, SIGUSR1, SIGINT}) signal(sig, SIG_DFL);
      setenv("RANK", std::to_string(rank).c_str(), 1);
      setenv("WORLD_SIZE", std::to_string(world).c_str(), 1);
      setenv("LOCAL_RANK", std::to_string(local).c_str(), 1);
      setenv("LOCAL_WORLD_SIZE", std::to_string(FLAGS_nproc).c_str(), 1);
      setenv("GROUP_RANK", std::to_string(FLAGS_node_rank).c_str(), 1);
      setenv("MASTER_ADDR", FLAGS_master_addr.c_str(), 1);
      setenv("MASTER_PORT", std::to_string(port).c_str(), 1);
      std::vector<std::string> args = {runner, "--run_dir=" + run_dir};
      for (int i = 1; i < argc; ++i) args.push_back(argv[i]);
      std::vector<char*> cargs;
      for (auto& a : args) cargs.push_back(a.data());
      cargs.push_back(nullptr);
      execv(runner.c_str(), cargs.data());
      std::perror("execv");
      _exit(127);
    }
    rank_of[pid] = rank;
  }

  int result = 0;            // first failure's code, else 0 / 75
  bool failed = false, preempted = false;
  std::chrono::steady_clock::time_point kill_at{};
  bool kill_pending = false;
  std::map<pid_t, int> running = rank_of;
  while (!running.empty()) {
    if (const int sig = g_forward.exchange(0); sig != 0) {
      std::cerr << "launch: passing " << strsignal(sig) << " on to " << running.size() << " rank(s)\n";
      for (const auto& [pid, rank] : running) kill(pid, sig);
    }
    if (kill_pending && std::chrono::steady_clock::now() >= kill_at) {
      for (const auto& [pid, rank] : running) {
        std::cerr << "launch: rank " << rank << " (pid " << pid << ") did not stop within " << FLAGS_grace_s
                  << " s; killing it\n";
        kill(pid, SIGKILL);
      }
      kill_pending = false;
    }
    int status = 0;
    const pid_t pid = waitpid(-1, &status, WNOHANG);
    if (pid == 0 || (pid < 0 && errno == EINTR)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      continue;
    }
    if (pid < 0) break;  // no children left
    auto it = running.find(pid);
    if (it == running.end()) continue;
    const int rank = it->second;
    running.erase(it);
    const int code = Code(status);
    if (code == 0) continue;
    if (code == kExitPreempted) {
      preempted = true;
      continue;
    }
    if (!failed) {
      failed = true;
      result = code;
      std::cerr << "launch: rank " << rank << " (pid " << pid << ") " << Describe(status) << "; stopping the other "
                << running.size() << " rank(s) on this node (they stop by themselves when they notice the lost rank)\n";
      for (const auto& [p, r] : running) kill(p, SIGTERM);
      kill_at = std::chrono::steady_clock::now() +
                std::chrono::milliseconds(static_cast<int64_t>(FLAGS_grace_s * 1000));
      kill_pending = !running.empty();
    } else {
      std::cerr << "launch: rank " << rank << " (pid " << pid << ") " << Describe(status) << "\n";
    }
  }
  if (failed) return result;
  if (preempted) {
    std::cerr << "launch: preempted; relaunch with --resume to continue\n";
    return kExitPreempted;
  }
  return 0;
}
