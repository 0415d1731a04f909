// One report per run, and per sweep.
//
// WriteRunReport gathers what a run folder holds (summary.txt, a training
// loss figure drawn from metrics.csv, every evaluation's tables and its SVG
// figures: ROC curves, appearance-shift curves, segmentation overlays;
// analyses.md and its charts; the resolved config) into <run_dir>/report.md
// and a self-contained <run_dir>/report.html (SVG inlined, PNG embedded as
// base64, no external files). A sweep's report is sweep_report.h's. The runner
// writes the run report when a run ends; //experiments:report rebuilds it for
// old folders.
// Torch-free.
#ifndef CHEXWORLD_EVAL_RUN_REPORT_H_
#define CHEXWORLD_EVAL_RUN_REPORT_H_

#include <string>
#include <vector>

#include "absl/status/status.h"

namespace chexworld {

absl::Status WriteRunReport(const std::string& run_dir);

// The markdown subset the reports use (headings, pipe tables, fenced code,
// images, paragraphs with `code`) as an HTML page; images whose files exist
// under `base_dir` are embedded.
std::string MarkdownToHtml(const std::string& markdown, const std::string& title, const std::string& base_dir);

}  // namespace chexworld

#endif  // CHEXWORLD_EVAL_RUN_REPORT_H_
