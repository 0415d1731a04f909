// The experiment runner:
//
//   bazel run //experiments:run -- --config=experiments/pretrain/tiny.textproto
//       [--set path=value ...] [--run_dir=DIR] [--resume]      (one line)
//   bazel run //experiments:run -- --run_dir=DIR --resume     (the run's own config)
//   bazel run //experiments:run -- --list_components
//   bazel run //experiments:run -- --config=... --print_resolved
//
// Loads and resolves the config and checks every rule (each component's and
// the cross-field ones) before any work; only then does it make or touch the
// run folder. A resume takes the run's own config.textproto unless --config
// is given, refuses a config that differs from it without writing anything,
// and leaves a finished run as it is. Exit status: 0 done (or already done);
// 75 preempted by SIGTERM / SIGUSR1 after writing a checkpoint (continue with
// --resume); 1 failed; 2 bad command line or config.
#include <cstdlib>
#include <iostream>

#include <gflags/gflags.h>
#include <glog/logging.h>

#include "absl/strings/str_split.h"
#include "chexworld/core/config.h"
#include "chexworld/core/config_location.h"
#include "chexworld/core/flags.h"
#include "chexworld/core/paths.h"
#include "chexworld/core/registry.h"
#include "chexworld/train/distributed_env.h"
#include "chexworld/train/experiment.h"
#include "chexworld/train/preemption.h"

DEFINE_string(config, "", "experiment config (text ExperimentConfig), relative to your shell directory; "
                          "with --resume, default: the run folder's config.textproto");
DEFINE_string(run_dir, "", "run folder (default: <run.output_root>/<run.name>/<timestamp>)");
DEFINE_bool(list_components, false, "print every registry and exit");
DEFINE_bool(print_resolved, false, "print the resolved config and exit");
DEFINE_bool(resume, false, "continue the latest checkpoint in --run_dir");

namespace {

// The first line where two resolved configs differ, for an error message.
std::string FirstDifference(const std::string& a, const std::string& b) {
  std::vector<std::string> la = absl::StrSplit(a, '\n'), lb = absl::StrSplit(b, '\n');
  for (size_t i = 0; i < std::max(la.size(), lb.size()); ++i) {
    const std::string x = i < la.size() ? la[i] : "(end)", y = i < lb.size() ? lb[i] : "(end)";
    if (x != y) return "line " + std::to_string(i + 1) + ": the run has `" + x + "`, this config `" + y + "`";
  }
  return "";
}

int Fail(int code, const std::string& message) {
  std::cerr << "error: " << message << "\n";
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> sets = chexworld::ExtractRepeatedFlag("set", &argc, &argv);
  chexworld::ParseFlags("--config=FILE [--set path=value ...] [--run_dir=DIR] [--resume]", __FILE__, &argc, &argv);
  FLAGS_logtostderr = true;
  google::InitGoogleLogging(argv[0]);

  if (FLAGS_list_components) {
    std::cout << chexworld::ComponentCatalog::Global().Describe();
    return 0;
  }
  if (FLAGS_resume && FLAGS_run_dir.empty()) return Fail(2, "--resume needs --run_dir (the run folder to continue)");
  const std::string run_dir_flag = chexworld::UserPath(FLAGS_run_dir);
  const std::string own_config = run_dir_flag.empty() ? "" : run_dir_flag + "/config.textproto";
  std::string config_path = chexworld::UserPath(FLAGS_config);
  if (config_path.empty() && FLAGS_resume) {
    if (!chexworld::PathExists(own_config)) {
      return Fail(2, own_config + " does not exist: give --config to start this run folder");
    }
    config_path = own_config;
  }
  if (config_path.empty()) return Fail(2, "--config is required (or --list_components, or --run_dir with --resume)");
  auto config = chexworld::LoadExperimentConfig(config_path, sets);
  if (!config.ok()) return Fail(2, std::string(config.status().message()));
  // Every rule, before the folder exists: a bad config does no work.
  if (auto s = chexworld::CheckExperimentComplete(*config); !s.ok()) {
    return Fail(2, chexworld::MessageWithLocation(s, config_path, sets));
  }
  const std::string resolved = chexworld::ToTextProtoWithDefaults(*config);
  if (FLAGS_print_resolved) {
    std::cout << resolved;
    return 0;
  }
  // A config can be right and still not run here (run.device = "cuda" on a
  // machine without a GPU): say so before the folder exists, too.
  if (auto s = chexworld::CheckMachineCanRun(*config); !s.ok()) return Fail(2, std::string(s.message()));
  auto env = chexworld::DistributedFromEnvironment();
  if (!env.ok()) return Fail(2, std::string(env.status().message()));
  const bool writer = env->rank == 0;  // data-parallel ranks: rank 0 writes the run folder

  std::string run_dir = run_dir_flag;
  if (FLAGS_resume && chexworld::PathExists(own_config)) {
    // The run's record is never rewritten: a resume must use its config.
    auto recorded = chexworld::LoadExperimentConfig(own_config, {});
    if (!recorded.ok()) return Fail(2, own_config + ": " + std::string(recorded.status().message()));
    const std::string theirs = chexworld::ToTextProtoWithDefaults(*recorded);
    if (theirs != resolved) {
      return Fail(2, run_dir + " was made with another config (" + FirstDifference(theirs, resolved) +
                         "); resume with its own (drop --config and --set) or start a new run folder. Nothing was "
                         "changed");
    }
    if (chexworld::RunIsFinished(*config, run_dir)) {
      LOG(INFO) << run_dir << " has finished (report.html, summary.txt): nothing to resume, nothing changed";
      return 0;
    }
  }
  if (run_dir.empty()) {
    auto made = chexworld::MakeRunDirectory(config->run().output_root(), config->run().name());
    if (!made.ok()) return Fail(1, std::string(made.status().message()));
    run_dir = *made;
  } else if (auto s = chexworld::MakeDirectories(run_dir); !s.ok()) {
    return Fail(1, std::string(s.message()));
  }
  if (writer && !(FLAGS_resume && chexworld::PathExists(own_config))) {
    if (auto s = chexworld::WriteTextProto(*config, run_dir + "/config.textproto", /*with_defaults=*/true); !s.ok()) {
      return Fail(1, std::string(s.message()));
    }
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
