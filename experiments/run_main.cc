// The experiment runner:
//
//   bazel run //experiments:run -- --config=experiments/pretrain/tiny.textproto
//       [--set path=value ...] [--run_dir=DIR] [--resume]      (one line)
//   bazel run //experiments:run -- --list_components
//   bazel run //experiments:run -- --config=... --print_resolved
//
// Loads and resolves the config (every component checked before any work),
// writes it to the run folder, and hands over to the experiment driver.
// Exit status: 0 done; 75 preempted by SIGTERM / SIGUSR1 after writing a
// checkpoint (continue with --resume); 1 failed; 2 bad command line or config.
#include <cstdlib>
#include <iostream>

#include <gflags/gflags.h>
#include <glog/logging.h>

#include "chexworld/core/config.h"
#include "chexworld/core/flags.h"
#include "chexworld/core/paths.h"
#include "chexworld/core/registry.h"
#include "chexworld/train/distributed_env.h"
#include "chexworld/train/experiment.h"
#include "chexworld/train/preemption.h"

DEFINE_string(config, "", "experiment config (text ExperimentConfig), relative to your shell directory");
DEFINE_string(run_dir, "", "run folder (default: <run.output_root>/<run.name>/<timestamp>)");
DEFINE_bool(list_components, false, "print every registry and exit");
DEFINE_bool(print_resolved, false, "print the resolved config and exit");
DEFINE_bool(resume, false, "continue the latest checkpoint in --run_dir");

int main(int argc, char** argv) {
  std::vector<std::string> sets = chexworld::ExtractRepeatedFlag("set", &argc, &argv);
  gflags::SetUsageMessage("--config=FILE [--set path=value ...] [--run_dir=DIR] [--resume]");
  gflags::ParseCommandLineFlags(&argc, &argv, true);
  FLAGS_logtostderr = true;
  google::InitGoogleLogging(argv[0]);

  if (FLAGS_list_components) {
    std::cout << chexworld::ComponentCatalog::Global().Describe();
    return 0;
  }
  if (FLAGS_config.empty()) {
    std::cerr << "error: --config is required (or --list_components)\n";
    return 2;
  }
  auto config = chexworld::LoadExperimentConfig(chexworld::UserPath(FLAGS_config), sets);
  if (!config.ok()) {
    std::cerr << "error: " << config.status().message() << "\n";
    return 2;
  }
  if (FLAGS_print_resolved) {
    std::cout << chexworld::ToTextProtoWithDefaults(*config);
    return 0;
  }
  if (FLAGS_resume && FLAGS_run_dir.empty()) {
    std::cerr << "error: --resume needs --run_dir (the run folder to continue)\n";
    return 2;
  }
  std::string run_dir = chexworld::UserPath(FLAGS_run_dir);
  if (run_dir.empty()) {
    auto made = chexworld::MakeRunDirectory(config->run().output_root(), config->run().name());
    if (!made.ok()) {
      std::cerr << "error: " << made.status().message() << "\n";
      return 1;
    }
    run_dir = *made;
  } else if (auto s = chexworld::MakeDirectories(run_dir); !s.ok()) {
    std::cerr << "error: " << s.message() << "\n";
    return 1;
  }
  auto env = chexworld::DistributedFromEnvironment();
  if (!env.ok()) {
    std::cerr << "error: " << env.status().message() << "\n";
    return 2;
  }
  const bool writer = env->rank == 0;  // data-parallel ranks: rank 0 writes the run folder
  if (auto s = writer ? chexworld::WriteTextProto(*config, run_dir + "/config.textproto", /*with_defaults=*/true) : absl::OkStatus(); !s.ok()) {
    std::cerr << "error: " << s.message() << "\n";
    return 1;
  }
  LOG(INFO) << "run folder: " << run_dir;
  absl::Status status = chexworld::RunExperiment(*config, run_dir, FLAGS_resume);
  if (chexworld::IsPreempted(status)) {
    LOG(WARNING) << status.message();
  } else if (!status.ok()) {
    LOG(ERROR) << status;
  }
  // 0 done, 75 preempted (checkpoint written: --resume), 1 failed.
  return chexworld::ExitCodeFor(status);
}
