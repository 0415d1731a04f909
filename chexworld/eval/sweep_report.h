// A sweep's results and report, read from its run folders.
//
// results.md leads with one compact table: a row per variant, per evaluation
// the primary metric of the variant's own encoder (mean AUROC, or mean Dice
// for segmentation), mean ± sd over seeds, and its difference from the first
// (base) variant with the two-level bootstrap interval of seeds.json (over
// test images only without seeds). Encoders that do not depend on the variant
// (random initialisation, a fixed checkpoint: the same predictions in every
// variant) come once, below it; throughput and memory have their own table;
// every run's full row (results.csv's columns) comes last.
//
// report.md / report.html open with one figure (sweep.svg): the primary metric
// per variant and evaluation with the interval, and the training loss of every
// variant overlaid (mean over seeds). Torch-free.
#ifndef CHEXWORLD_EVAL_SWEEP_REPORT_H_
#define CHEXWORLD_EVAL_SWEEP_REPORT_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace chexworld {

struct SweepRunInfo {
  std::string variant;
  std::string seed;  // "" without seeds
  std::string overrides;
  std::string name() const { return seed.empty() ? variant : variant + "/seed" + seed; }
};

// The runs of a sweep folder, from its results.csv (else every sub-folder with
// a config.textproto, as a variant without seeds).
std::vector<SweepRunInfo> ReadSweepRuns(const std::string& sweep_dir);

// results.md and results.csv (see above); `header_md` heads results.md. Reads
// seeds.json (WriteSweepSeedReport) when it exists.
absl::Status WriteSweepResults(const std::string& sweep_dir, const std::string& header_md,
                               const std::vector<SweepRunInfo>& runs);

// sweep.svg, report.md and report.html.
absl::Status WriteSweepReport(const std::string& sweep_dir, const std::vector<SweepRunInfo>& runs);

}  // namespace chexworld

#endif  // CHEXWORLD_EVAL_SWEEP_REPORT_H_
