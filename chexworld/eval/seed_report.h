// Seed-pooled reports (seed_aggregate.h) over run folders, from the test
// predictions every classification evaluation keeps (eval/*_scores.csv):
//
//  * a sweep run with seeds: <sweep>/<variant>/seed<s>/ — every variant
//    against the first, per evaluation report and encoder;
//  * evaluation runs, one per pretraining seed, each comparing several
//    encoders (CheXWorld vs local-only vs random init) — every encoder
//    against the first, per evaluation report:
//      bazel run //experiments:report -- --seed_runs=runs/t_s0,runs/t_s1,runs/t_s2 --out_dir=runs/t_seeds
//
// Each writes seeds.md, seeds.json and seeds.html into its folder.
// Torch-free.
#ifndef CHEXWORLD_EVAL_SEED_REPORT_H_
#define CHEXWORLD_EVAL_SEED_REPORT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace chexworld {

// The markdown written ("" when no variant has classification scores).
// `seeds` label the runs of each variant: "3" is <variant>/seed3/, and one
// empty label is a sweep without seeds (<variant>/, intervals over test
// images only). An encoder that does not depend on the variant (the same
// predictions in every variant at every seed: random initialisation, a fixed
// checkpoint) is reported once, not compared with itself.
absl::StatusOr<std::string> WriteSweepSeedReport(const std::string& sweep_dir, const std::vector<std::string>& variants,
                                                 const std::vector<std::string>& seeds);

absl::StatusOr<std::string> WriteSeedRunsReport(const std::vector<std::string>& run_dirs,
                                                const std::vector<std::string>& seed_labels, const std::string& out_dir);

// The run folder of a variant at a seed label ("" = a sweep without seeds).
std::string SeedRunDir(const std::string& sweep_dir, const std::string& variant, const std::string& seed);

}  // namespace chexworld

#endif  // CHEXWORLD_EVAL_SEED_REPORT_H_
