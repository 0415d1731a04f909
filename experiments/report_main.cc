// Rebuilds the report of a run or a sweep folder (runs write theirs when they
// end; this is for old folders, or after adding analyses):
//
//   bazel run //experiments:report -- --run_dir=runs/pretrain_tiny/<stamp>
//   bazel run //experiments:report -- --sweep_dir=runs/ablations/<stamp>
//
// Writes report.md and a self-contained report.html into the folder.
#include <sys/stat.h>

#include <iostream>

#include <gflags/gflags.h>

#include "absl/strings/str_split.h"
#include "chexworld/core/flags.h"
#include "chexworld/core/paths.h"
#include "chexworld/eval/run_report.h"

DEFINE_string(run_dir, "", "a run folder");
DEFINE_string(sweep_dir, "", "or a sweep folder (variants in results.csv order, else every sub-folder with a config)");

int main(int argc, char** argv) {
  chexworld::ParseFlags("--run_dir=DIR | --sweep_dir=DIR", __FILE__, &argc, &argv);
  if (FLAGS_run_dir.empty() == FLAGS_sweep_dir.empty()) {
    std::cerr << "error: give exactly one of --run_dir and --sweep_dir\n";
    return 2;
  }
  if (!FLAGS_run_dir.empty()) {
    const std::string dir = chexworld::UserPath(FLAGS_run_dir);
    if (auto s = chexworld::WriteRunReport(dir); !s.ok()) {
      std::cerr << "error: " << s.message() << "\n";
      return 1;
    }
    std::cout << "report: " << dir << "/report.md, " << dir << "/report.html\n";
    return 0;
  }
  const std::string dir = chexworld::UserPath(FLAGS_sweep_dir);
  std::vector<std::string> variants;
  if (auto csv = chexworld::ReadFile(dir + "/results.csv"); csv.ok()) {
    bool header = true;
    for (absl::string_view line : absl::StrSplit(*csv, '\n', absl::SkipEmpty())) {
      if (header) {
        header = false;
        continue;
      }
      variants.emplace_back(line.substr(0, line.find(',')));
    }
  }
  if (variants.empty()) {
    std::cerr << "error: " << dir << "/results.csv lists no variants (is it a sweep folder?)\n";
    return 1;
  }
  for (const auto& v : variants) chexworld::WriteRunReport(dir + "/" + v).IgnoreError();
  if (auto s = chexworld::WriteSweepReport(dir, variants); !s.ok()) {
    std::cerr << "error: " << s.message() << "\n";
    return 1;
  }
  std::cout << "report: " << dir << "/report.md, " << dir << "/report.html\n";
  return 0;
}
