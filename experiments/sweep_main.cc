// Runs one base config under named override sets and writes one results
// table (markdown and CSV) with each variant's final loss terms and any
// evaluation metrics it produced.
//
//   bazel run //experiments:sweep -- --sweep=experiments/sweeps/ablations.textproto
//       [--set path=value ...] [--sweep_dir=runs/ablations/try1]      (one line)
//
// --set applies to every variant (after the variant's own overrides).
// --seeds=3 (or `seeds: [0, 1, 2]` in the sweep) runs every variant once per
// pretraining seed into <variant>/seed<s>/ and pools the results over seeds
// (results.md, seeds.md; chexworld/eval/seed_aggregate.h).
// Re-running with the same --sweep_dir skips finished variants and resumes an
// interrupted one from its latest checkpoint. A preempted variant (SIGTERM /
// SIGUSR1) ends the sweep with exit status 75 after its checkpoint.
#include <sys/stat.h>

#include <fstream>
#include <iostream>
#include <cmath>
#include <map>

#include <gflags/gflags.h>
#include <glog/logging.h>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "chexworld/core/config.h"
#include "chexworld/core/config_location.h"
#include "chexworld/core/flags.h"
#include "chexworld/core/paths.h"
#include "chexworld/eval/seed_report.h"
#include "chexworld/eval/sweep_report.h"
#include "chexworld/train/experiment.h"
#include "chexworld/train/preemption.h"

DEFINE_string(sweep, "", "sweep config (text SweepConfig)");
DEFINE_string(sweep_dir, "", "sweep folder (default runs/<sweep name>/<timestamp>)");
DEFINE_string(seeds, "",
              "pretraining seeds: a count (3 = seeds 0, 1, 2) or a list (0,5,9; one seed as '2,'); overrides the "
              "sweep's seeds");

namespace {

// Seeds from --seeds: a count ("3" = 0, 1, 2) or a list ("0,5,9"); a comma makes
// it a list, so "2," is the single seed 2 (a seed-2 run of a sweep that was
// started with fewer seeds lands in <variant>/seed2 beside the others).
absl::StatusOr<std::vector<uint64_t>> ParseSeeds(const std::string& flag) {
  std::vector<uint64_t> out;
  std::vector<std::string> parts = absl::StrSplit(flag, ',', absl::SkipEmpty());
  for (const auto& p : parts) {
    uint64_t v = 0;
    if (!absl::SimpleAtoi(p, &v)) return absl::InvalidArgumentError(absl::StrCat("--seeds: '", p, "' is not a number"));
    out.push_back(v);
  }
  if (out.empty()) return absl::InvalidArgumentError(absl::StrCat("--seeds='", flag, "': no seed given"));
  if (flag.find(',') == std::string::npos) {
    const uint64_t n = out[0];
    if (n < 1 || n > 1000) {
      return absl::InvalidArgumentError(absl::StrCat("--seeds=", n, ": a count in [1, 1000], or a list a,b,... (the single seed ",
                                                     n, " is --seeds=", n, ",)"));
    }
    out.clear();
    for (uint64_t i = 0; i < n; ++i) out.push_back(i);
  }
  return out;
}

struct SweepRun {
  std::string variant;
  std::string seed;  // "" without seeds
  std::string dir;   // the run folder
  chexworld::ExperimentConfig config;
  std::vector<std::string> overrides;
};

// Runs (or reuses) one run; false on failure, after saying why. Exits on preemption.
int RunOne(const SweepRun& r, size_t index, size_t total, const std::string& sweep_dir) {
  if (chexworld::RunIsFinished(r.config, r.dir)) {
    LOG(INFO) << "=== " << r.dir << ": already finished, reusing it";
    return 0;
  }
  const bool resume = chexworld::PathExists(r.dir + "/checkpoints");
  LOG(INFO) << "=== variant " << r.variant << (r.seed.empty() ? "" : " seed " + r.seed) << " (" << index + 1 << "/"
            << total << ")" << (resume ? ", resuming" : "") << ": " << absl::StrJoin(r.overrides, " ");
  chexworld::MakeDirectories(r.dir).IgnoreError();
  if (auto s = chexworld::WriteTextProto(r.config, r.dir + "/config.textproto", /*with_defaults=*/true); !s.ok()) {
    std::cerr << "error: " << s.message() << "\n";
    return 1;
  }
  absl::Status s = chexworld::RunExperiment(r.config, r.dir, resume);
  if (chexworld::IsPreempted(s)) {
    LOG(WARNING) << r.dir << ": " << s.message() << "; re-run the sweep with --sweep_dir=" << sweep_dir << " to continue";
    return chexworld::kExitPreempted;
  }
  if (!s.ok()) {
    LOG(ERROR) << r.dir << " failed: " << s;
    return 1;
  }
  return 0;
}

std::string CsvCell(std::string cell) {
  if (cell.find(',') != std::string::npos || cell.find('"') != std::string::npos) {
    cell = "\"" + absl::StrReplaceAll(cell, {{"\"", "\"\""}}) + "\"";
  }
  return cell;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> sets = chexworld::ExtractRepeatedFlag("set", &argc, &argv);
  chexworld::ParseFlags("--sweep=FILE [--sweep_dir=DIR] [--seeds=3|a,b,c] [--set path=value ...] (every variant; re-run to continue)",
                        __FILE__, &argc, &argv);
  FLAGS_logtostderr = true;
  google::InitGoogleLogging(argv[0]);
  if (FLAGS_sweep.empty()) {
    std::cerr << "error: --sweep is required\n";
    return 2;
  }
  const std::string sweep_path = chexworld::UserPath(FLAGS_sweep);
  chexworld::SweepConfig sweep;
  if (auto s = chexworld::ParseTextProtoFile(sweep_path, &sweep); !s.ok()) {
    std::cerr << "error: " << s.message() << "\n";
    return 2;
  }
  std::vector<uint64_t> seeds(sweep.seeds().begin(), sweep.seeds().end());
  if (!FLAGS_seeds.empty()) {
    auto parsed = ParseSeeds(FLAGS_seeds);
    if (!parsed.ok()) {
      std::cerr << "error: " << parsed.status().message() << "\n";
      return 2;
    }
    seeds = *parsed;
  }
  const bool with_seeds = !seeds.empty();
  const std::string sweep_name =
      std::string(absl::StripSuffix(sweep_path.substr(sweep_path.find_last_of('/') + 1), ".textproto"));
  const std::string base = absl::StartsWith(sweep.base_config(), "/")
                               ? sweep.base_config()
                               : sweep_path.substr(0, sweep_path.find_last_of('/') + 1) + sweep.base_config();
  std::string dir = chexworld::UserPath(FLAGS_sweep_dir);
  // Resolve every run before running any (a bad override fails first, and no folder is made).
  std::vector<SweepRun> runs;
  for (const auto& v : sweep.variants()) {
    for (size_t k = 0; k < (with_seeds ? seeds.size() : 1); ++k) {
      SweepRun r{v.name(), with_seeds ? absl::StrCat(seeds[k]) : "", "", {}, {v.set().begin(), v.set().end()}};
      std::vector<std::string> all = r.overrides;
      all.insert(all.end(), sets.begin(), sets.end());
      all.push_back("run.name=" + sweep_name + "_" + v.name());
      if (with_seeds) all.push_back("run.seed=" + r.seed);
      auto config = chexworld::LoadExperimentConfig(base, all);
      absl::Status complete = config.ok() ? chexworld::CheckExperimentComplete(*config) : config.status();
      if (complete.ok()) complete = chexworld::CheckMachineCanRun(*config);
      if (!complete.ok()) {
        std::cerr << "error: variant '" << v.name() << "': " << chexworld::MessageWithLocation(complete, base, all) << "\n";
        return 2;
      }
      r.config = *config;
      runs.push_back(std::move(r));
    }
  }
  if (dir.empty()) {
    auto made = chexworld::MakeRunDirectory("runs", sweep_name);
    if (!made.ok()) {
      std::cerr << "error: " << made.status().message() << "\n";
      return 1;
    }
    dir = *made;
  }
  std::vector<chexworld::SweepRunInfo> infos;
  for (size_t i = 0; i < runs.size(); ++i) {
    SweepRun& r = runs[i];
    const chexworld::SweepRunInfo info{r.variant, r.seed, absl::StrJoin(r.overrides, " ")};
    r.dir = dir + "/" + info.name();
    if (int code = RunOne(r, i, runs.size(), dir); code != 0) return code;
    infos.push_back(info);
  }
  const std::string header_md =
      absl::StrCat("# Sweep ", sweep_name, "\n\nbase: `", sweep.base_config(), "`",
                   sets.empty() ? "" : absl::StrCat(", for all: `", absl::StrJoin(sets, " "), "`"),
                   with_seeds ? absl::StrCat("; seeds ", absl::StrJoin(seeds, ", ")) : "", "\n\n");
  // Pooled over seeds first (seeds.json), then the tables that read it, then the report.
  std::vector<std::string> variants, labels;
  for (const auto& v : sweep.variants()) variants.push_back(v.name());
  if (with_seeds) {
    for (uint64_t s : seeds) labels.push_back(absl::StrCat(s));
  } else {
    labels.push_back("");
  }
  if (auto pooled = chexworld::WriteSweepSeedReport(dir, variants, labels); !pooled.ok()) {
    std::cerr << "error: pooling the runs: " << pooled.status().message() << "\n";
    return 1;
  }
  if (auto s = chexworld::WriteSweepResults(dir, header_md, infos); !s.ok()) {
    std::cerr << "error: " << s.message() << "\n";
    return 1;
  }
  if (auto s = chexworld::WriteSweepReport(dir, infos); !s.ok()) {
    std::cerr << "error: " << s.message() << "\n";
    return 1;
  }
  std::cout << "results: " << dir << "/results.md, " << dir << "/results.csv, report " << dir << "/report.html\n";
  return 0;
}
