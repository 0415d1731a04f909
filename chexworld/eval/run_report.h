// One report per run, and per sweep.
//
// WriteRunReport gathers what a run folder holds (summary.txt, a training
// loss figure drawn from metrics.csv, every evaluation's tables and its SVG
// figures: ROC curves, appearance-shift curves, segmentation overlays;
// analyses.md and its charts; the resolved config) into <run_dir>/report.md
// and a self-contained <run_dir>/report.html (SVG inlined, PNG embedded as
// base64, no external files). WriteSweepReport puts a sweep's variants side by side: its results
// table, then per evaluation one table of every variant's encoders with their
// intervals, and links to each variant's report. The runner writes the run
// report when a run ends; //experiments:report rebuilds either for old folders.
// Torch-free.
#ifndef CHEXWORLD_EVAL_RUN_REPORT_H_
#define CHEXWORLD_EVAL_RUN_REPORT_H_

#include <string>
#include <vector>

#include "absl/status/status.h"

namespace chexworld {

absl::Status WriteRunReport(const std::string& run_dir);

// `variants`: the variant folder names under `sweep_dir`, in sweep order.
absl::Status WriteSweepReport(const std::string& sweep_dir, const std::vector<std::string>& variants);

// The markdown subset the reports use (headings, pipe tables, fenced code,
// images, paragraphs with `code`) as an HTML page; images whose files exist
// under `base_dir` are embedded.
std::string MarkdownToHtml(const std::string& markdown, const std::string& title, const std::string& base_dir);

}  // namespace chexworld

#endif  // CHEXWORLD_EVAL_RUN_REPORT_H_
