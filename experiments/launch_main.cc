// Starts a data-parallel run: one process of //experiments:run per rank, on
// this machine, joined through a c10d FileStore in the run folder.
//
//   bazel run //experiments:launch -- --nproc=2 --run_dir=runs/ddp --
//       --config=experiments/pretrain/tiny.textproto [--set ...] [--resume]      (one line)
//
// Share the cores between ranks: with one rank per core, --set run.threads=1
// --set trainer.concurrent_shards=1.
// Each rank reads every nproc-th image of the shared epoch order; gradients
// are averaged over ranks (ProcessGroupGloo); rank 0 writes the run folder.
// If a rank fails, the others are stopped and the launcher exits non-zero.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include <gflags/gflags.h>

#include "chexworld/core/paths.h"

DEFINE_int32(nproc, 2, "processes (ranks) to start");
DEFINE_string(run_dir, "", "run folder shared by the ranks (required)");
DEFINE_string(runner, "", "runner binary (default: the run binary next to this one)");

int main(int argc, char** argv) {
  gflags::SetUsageMessage("--nproc=N --run_dir=DIR -- <arguments for //experiments:run>");
  gflags::ParseCommandLineFlags(&argc, &argv, true);
  if (FLAGS_run_dir.empty() || FLAGS_nproc < 1) {
    std::cerr << "error: --run_dir and --nproc >= 1 are required\n";
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
  const std::string store = run_dir + "/.c10d_store";
  std::remove(store.c_str());
  std::vector<pid_t> children;
  for (int rank = 0; rank < FLAGS_nproc; ++rank) {
    pid_t pid = fork();
    if (pid == 0) {
      setenv("CHEXWORLD_RANK", std::to_string(rank).c_str(), 1);
      setenv("CHEXWORLD_WORLD_SIZE", std::to_string(FLAGS_nproc).c_str(), 1);
      setenv("CHEXWORLD_STORE", store.c_str(), 1);
      std::vector<std::string> args = {runner, "--run_dir=" + run_dir};
      for (int i = 1; i < argc; ++i) args.push_back(argv[i]);
      std::vector<char*> cargs;
      for (auto& a : args) cargs.push_back(a.data());
      cargs.push_back(nullptr);
      execv(runner.c_str(), cargs.data());
      std::perror("execv");
      _exit(127);
    }
    children.push_back(pid);
  }
  int worst = 0;
  for (size_t done = 0; done < children.size(); ++done) {
    int status = 0;
    pid_t pid = wait(&status);
    const int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (code != 0 && worst == 0) {
      std::cerr << "a rank (pid " << pid << ") exited with " << code << ": stopping the others\n";
      for (pid_t c : children) {
        if (c != pid) kill(c, SIGTERM);
      }
    }
    worst = std::max(worst, code);
  }
  std::remove(store.c_str());
  return worst;
}
