// Results pooled over pretraining seeds: for each method (a sweep variant's
// encoder, or one encoder of an evaluation that compares several) and each
// test condition (unshifted, every shift), the mean AUROC's mean and standard
// deviation over seeds, and the paired difference against the first method
// with a 95% interval that covers both sources of variation:
//
//   two-level bootstrap: each replicate draws n seeds with replacement (the
//   same draw for every method: seed s of one method is paired with seed s
//   of the other) and, independently, the test images with replacement (the
//   same draw for every run: the test set is shared); the replicate's
//   difference is the mean over the drawn seeds of AUROC(method) -
//   AUROC(first method) on the drawn images. The interval is the 2.5th to
//   97.5th percentile; the point estimate is the mean over seeds of the
//   full-test-set differences.
//
// Each method's mean also gets its own two-level interval (the same replicates'
// means), which the sweep figure draws.
//
// With few seeds the seed level of the bootstrap is coarse (3 seeds give 10
// distinct draws), which the report says. Torch-free.
#ifndef CHEXWORLD_EVAL_SEED_AGGREGATE_H_
#define CHEXWORLD_EVAL_SEED_AGGREGATE_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "chexworld/eval/test_scores.h"

namespace chexworld {

struct SeedMethod {
  std::string name;                     // as shown in the tables
  std::string encoder;                  // its encoder's name inside each run's scores
  std::vector<const TestScores*> runs;  // one per seed, in the same seed order for every method
};

struct SeedAggregate {
  std::string markdown;
  std::string json;
};

// `title` heads the tables; `seeds` labels the runs ("0", "1", "2").
// Conditions are those every run has, in the first run's order. Errors name
// the method and seed whose test set or classes differ from the first run's.
absl::StatusOr<SeedAggregate> AggregateSeeds(const std::string& title, const std::vector<SeedMethod>& methods,
                                             const std::vector<std::string>& seeds, int resamples = 1000,
                                             uint64_t bootstrap_seed = 12345);

}  // namespace chexworld

#endif  // CHEXWORLD_EVAL_SEED_AGGREGATE_H_
