// Runs one base config under named override sets and writes one results
// table (markdown and CSV) with each variant's final loss terms and any
// evaluation metrics it produced.
//
//   bazel run //experiments:sweep -- --sweep=experiments/sweeps/ablations.textproto
//       [--set path=value ...] [--sweep_dir=runs/ablations/try1]      (one line)
//
// --set applies to every variant (after the variant's own overrides).
// Re-running with the same --sweep_dir skips finished variants and resumes an
// interrupted one from its latest checkpoint. A preempted variant (SIGTERM /
// SIGUSR1) ends the sweep with exit status 75 after its checkpoint.
#include <sys/stat.h>

#include <fstream>
#include <iostream>
#include <map>

#include <gflags/gflags.h>
#include <glog/logging.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "chexworld/core/config.h"
#include "chexworld/core/flags.h"
#include "chexworld/core/paths.h"
#include "chexworld/eval/run_report.h"
#include "chexworld/train/experiment.h"
#include "chexworld/train/preemption.h"

DEFINE_string(sweep, "", "sweep config (text SweepConfig)");
DEFINE_string(sweep_dir, "", "sweep folder (default runs/<sweep name>/<timestamp>)");

namespace {

// "key: value" lines of a summary or metrics file.
std::map<std::string, std::string> ReadKeyValues(const std::string& path) {
  std::map<std::string, std::string> out;
  auto text = chexworld::ReadFile(path);
  if (!text.ok()) return out;
  for (absl::string_view line : absl::StrSplit(*text, '\n', absl::SkipEmpty())) {
    size_t colon = line.find(':');
    if (colon == absl::string_view::npos) continue;
    out[std::string(absl::StripAsciiWhitespace(line.substr(0, colon)))] =
        std::string(absl::StripAsciiWhitespace(line.substr(colon + 1)));
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> sets = chexworld::ExtractRepeatedFlag("set", &argc, &argv);
  chexworld::ParseFlags("--sweep=FILE [--sweep_dir=DIR] [--set path=value ...] (every variant; re-run to continue)", __FILE__, &argc, &argv);
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
  const std::string sweep_name =
      std::string(absl::StripSuffix(sweep_path.substr(sweep_path.find_last_of('/') + 1), ".textproto"));
  const std::string base = sweep_path.substr(0, sweep_path.find_last_of('/') + 1) + sweep.base_config();
  // Resolve every variant before running any (a bad override fails first).
  std::vector<chexworld::ExperimentConfig> configs;
  for (const auto& v : sweep.variants()) {
    std::vector<std::string> all(v.set().begin(), v.set().end());
    all.insert(all.end(), sets.begin(), sets.end());
    all.push_back("run.name=" + sweep_name + "_" + v.name());
    auto config = chexworld::LoadExperimentConfig(base, all);
    absl::Status complete = config.ok() ? chexworld::CheckExperimentComplete(*config) : config.status();
    if (!complete.ok()) {
      std::cerr << "error: variant '" << v.name() << "': " << complete.message() << "\n";
      return 2;
    }
    configs.push_back(*config);
  }
  std::string dir = chexworld::UserPath(FLAGS_sweep_dir);
  if (dir.empty()) {
    auto made = chexworld::MakeRunDirectory("runs", sweep_name);
    if (!made.ok()) {
      std::cerr << "error: " << made.status().message() << "\n";
      return 1;
    }
    dir = *made;
  }
  std::vector<std::map<std::string, std::string>> results;
  for (int i = 0; i < sweep.variants_size(); ++i) {
    const auto& v = sweep.variants(i);
    const std::string run_dir = dir + "/" + v.name();
    if (!chexworld::RunIsFinished(configs[i], run_dir)) {
      const bool resume = chexworld::PathExists(run_dir + "/checkpoints");
      LOG(INFO) << "=== variant " << v.name() << " (" << i + 1 << "/" << sweep.variants_size() << ")"
                << (resume ? ", resuming" : "") << ": " << absl::StrJoin(v.set(), " ");
      chexworld::MakeDirectories(run_dir).IgnoreError();
      if (auto s = chexworld::WriteTextProto(configs[i], run_dir + "/config.textproto", /*with_defaults=*/true); !s.ok()) {
        std::cerr << "error: " << s.message() << "\n";
        return 1;
      }
      absl::Status s = chexworld::RunExperiment(configs[i], run_dir, resume);
      if (chexworld::IsPreempted(s)) {
        LOG(WARNING) << "variant " << v.name() << ": " << s.message() << "; re-run the sweep with --sweep_dir=" << dir
                     << " to continue";
        return chexworld::kExitPreempted;
      }
      if (!s.ok()) {
        LOG(ERROR) << "variant " << v.name() << " failed: " << s;
        return 1;
      }
    } else {
      LOG(INFO) << "=== variant " << v.name() << ": already finished, reusing " << run_dir;
    }
    auto row = ReadKeyValues(run_dir + "/summary.txt");
    for (auto& [k, val] : ReadKeyValues(run_dir + "/eval_summary.txt")) row["eval/" + k] = val;
    row["variant"] = v.name();
    row["overrides"] = absl::StrJoin(v.set(), " ");
    results.push_back(row);
  }
  // One table: variant, overrides, then every metric any variant reported.
  std::vector<std::string> columns = {"variant"};
  for (const auto& r : results)
    for (const auto& [k, val] : r)
      if (k != "variant" && k != "overrides" && k != "checkpoint" &&
          std::find(columns.begin(), columns.end(), k) == columns.end())
        columns.push_back(k);
  columns.push_back("overrides");
  std::ofstream csv(dir + "/results.csv"), md(dir + "/results.md");
  md << "# Sweep " << sweep_name << "\n\nbase: `" << sweep.base_config() << "`"
     << (sets.empty() ? "" : absl::StrCat(", for all: `", absl::StrJoin(sets, " "), "`")) << "\n\n| "
     << absl::StrJoin(columns, " | ") << " |\n|";
  for (size_t c = 0; c < columns.size(); ++c) md << "---|";
  md << "\n";
  csv << absl::StrJoin(columns, ",") << "\n";
  for (const auto& r : results) {
    std::vector<std::string> cells;
    for (const auto& c : columns) {
      auto it = r.find(c);
      cells.push_back(it == r.end() ? "" : it->second);
    }
    md << "| " << absl::StrJoin(cells, " | ") << " |\n";
    for (auto& cell : cells) {
      if (cell.find(',') != std::string::npos || cell.find('"') != std::string::npos) {
        cell = "\"" + absl::StrReplaceAll(cell, {{"\"", "\"\""}}) + "\"";
      }
    }
    csv << absl::StrJoin(cells, ",") << "\n";
  }
  std::vector<std::string> variant_names;
  for (const auto& v : sweep.variants()) variant_names.push_back(v.name());
  if (auto s = chexworld::WriteSweepReport(dir, variant_names); !s.ok()) {
    std::cerr << "error: " << s.message() << "\n";
    return 1;
  }
  std::cout << "results: " << dir << "/results.md, " << dir << "/results.csv, report " << dir << "/report.html\n";
  return 0;
}
