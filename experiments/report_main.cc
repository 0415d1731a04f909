// Rebuilds the report of a run or a sweep folder (runs write theirs when they
// end; this is for old folders, or after adding analyses):
//
//   bazel run //experiments:report -- --run_dir=runs/pretrain_tiny/<stamp>
//   bazel run //experiments:report -- --sweep_dir=runs/ablations/<stamp>
//
// Writes report.md and a self-contained report.html into the folder; with
// --pdf also every figure as a PDF beside its SVG, for a paper. And
// pools evaluation runs made once per pretraining seed, each comparing
// several encoders (chexworld/eval/seed_report.h):
//
//   bazel run //experiments:report -- --seed_runs=runs/t_s0,runs/t_s1,runs/t_s2 --out_dir=runs/t_seeds
//
// which writes seeds.md, seeds.json and seeds.html into --out_dir.
#include <sys/stat.h>

#include <iostream>

#include <gflags/gflags.h>

#include "absl/strings/str_split.h"
#include "chexworld/core/flags.h"
#include "chexworld/core/paths.h"
#include "chexworld/eval/run_report.h"
#include "chexworld/eval/report_files.h"
#include "chexworld/eval/seed_report.h"
#include "chexworld/eval/sweep_report.h"

DEFINE_string(run_dir, "", "a run folder");
DEFINE_string(sweep_dir, "", "or a sweep folder (variants in results.csv order, else every sub-folder with a config)");
DEFINE_string(seed_runs, "", "or comma-separated evaluation run folders, one per pretraining seed");
DEFINE_string(seed_labels, "", "labels of --seed_runs (default 0, 1, 2, ...)");
DEFINE_string(out_dir, "", "where --seed_runs writes seeds.md (default the first run's parent)");
DEFINE_bool(pdf, false, "also write every figure (*.svg) of the run or sweep folder as PDF (rsvg-convert)");

namespace {

int SeedRuns() {
  std::vector<std::string> dirs, labels;
  for (absl::string_view d : absl::StrSplit(FLAGS_seed_runs, ',', absl::SkipEmpty())) {
    dirs.push_back(chexworld::UserPath(std::string(d)));
  }
  for (absl::string_view l : absl::StrSplit(FLAGS_seed_labels, ',', absl::SkipEmpty())) labels.emplace_back(l);
  if (labels.empty())
    for (size_t i = 0; i < dirs.size(); ++i) labels.push_back(std::to_string(i));
  std::string out = chexworld::UserPath(FLAGS_out_dir);
  if (out.empty()) out = dirs[0].substr(0, dirs[0].find_last_of('/') == std::string::npos ? 0 : dirs[0].find_last_of('/'));
  if (out.empty()) out = ".";
  auto md = chexworld::WriteSeedRunsReport(dirs, labels, out);
  if (!md.ok()) {
    std::cerr << "error: " << md.status().message() << "\n";
    return 1;
  }
  std::cout << *md << "seeds: " << out << "/seeds.md, " << out << "/seeds.json, " << out << "/seeds.html\n";
  return 0;
}

// With --pdf, every figure of the folder also as PDF.
int Pdf(const std::string& dir) {
  if (!FLAGS_pdf) return 0;
  auto n = chexworld::WritePdfFigures(dir);
  if (!n.ok()) {
    std::cerr << "error: " << n.status().message() << "\n";
    return 1;
  }
  std::cout << "pdf: " << *n << " figure(s) under " << dir << " also as .pdf\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  chexworld::ParseFlags("--run_dir=DIR | --sweep_dir=DIR | --seed_runs=A,B,C [--out_dir=DIR] [--pdf]", __FILE__, &argc, &argv);
  if (!FLAGS_run_dir.empty() + !FLAGS_sweep_dir.empty() + !FLAGS_seed_runs.empty() != 1) {
    std::cerr << "error: give exactly one of --run_dir, --sweep_dir and --seed_runs\n";
    return 2;
  }
  if (!FLAGS_seed_runs.empty()) return SeedRuns();
  if (!FLAGS_run_dir.empty()) {
    const std::string dir = chexworld::UserPath(FLAGS_run_dir);
    if (auto s = chexworld::WriteRunReport(dir); !s.ok()) {
      std::cerr << "error: " << s.message() << "\n";
      return 1;
    }
    if (int rc = Pdf(dir); rc != 0) return rc;
    std::cout << "report: " << dir << "/report.md, " << dir << "/report.html\n";
    return 0;
  }
  const std::string dir = chexworld::UserPath(FLAGS_sweep_dir);
  const std::vector<chexworld::SweepRunInfo> runs = chexworld::ReadSweepRuns(dir);
  if (runs.empty()) {
    std::cerr << "error: " << dir << " has no results.csv and no run folders (is it a sweep folder?)\n";
    return 1;
  }
  for (const auto& r : runs) chexworld::WriteRunReport(dir + "/" + r.name()).IgnoreError();
  if (auto s = chexworld::WriteSweepReport(dir, runs); !s.ok()) {
    std::cerr << "error: " << s.message() << "\n";
    return 1;
  }
  if (int rc = Pdf(dir); rc != 0) return rc;
  std::cout << "report: " << dir << "/report.md, " << dir << "/report.html\n";
  return 0;
}
