// Masker "multiblock" (CheXWorld / I-JEPA multi-block masks, merged targets).
//
// Per batch: block sizes shared by the batch, drawn from a torch CPU generator
// seeded with the call counter (exactly as the official collator, so sizes
// match it call for call). Per sample: 4 target blocks placed uniformly and
// merged; one square context block minus the targets. Lengths are the batch
// minimum, each list truncated to its lowest indices (official behaviour).
//
// With fixed_lengths, every batch of a size and grid has the same lengths (the
// option's comment in multiblock.proto says how they are chosen).
//
// Never hangs: a context that keeps failing drops one target-exclusion
// constraint every `tries_per_relaxation` failures (official), and once none is
// left, and for target blocks that cannot exceed min_keep at this grid, the
// threshold falls to the block's own size minus one (counted in relaxations).
#ifndef CHEXWORLD_MASKS_MULTIBLOCK_H_
#define CHEXWORLD_MASKS_MULTIBLOCK_H_

#include <array>
#include <map>
#include <mutex>
#include <tuple>
#include <utility>

#include "absl/status/statusor.h"
#include "chexworld/masks/masker.h"
#include "chexworld/masks/multiblock.pb.h"

namespace chexworld {

absl::StatusOr<MultiblockOptions> ResolveMultiblockOptions(const MultiblockOptions& options);

class MultiblockMasker : public Masker {
 public:
  explicit MultiblockMasker(const MultiblockOptions& resolved) : o_(resolved) {}
  MaskBatch Sample(int64_t batch, int64_t grid_h, int64_t grid_w, uint64_t call,
                   std::mt19937_64& rng) const override;
  bool fixed_lengths() const override { return o_.fixed_lengths(); }
  // (target h, target w, context h, context w) for call `call`.
  std::array<int, 4> BlockSizes(int64_t grid_h, int64_t grid_w, uint64_t call) const;
  int min_keep(int64_t grid_h, int64_t grid_w) const;
  // The (context, target) lengths every batch gets with fixed_lengths.
  std::pair<int64_t, int64_t> FixedLengths(int64_t batch, int64_t grid_h, int64_t grid_w) const;

 private:
  // The official sampler: lengths are the batch minimum.
  // The official sampler: each batch cut to its own minimum lengths (the
  // first indices of each sample's sorted list). With `lists`, also every
  // sample's full (context, target) index lists.
  using IndexLists = std::pair<std::vector<std::vector<int64_t>>, std::vector<std::vector<int64_t>>>;
  MaskBatch SampleVariable(int64_t batch, int64_t grid_h, int64_t grid_w, uint64_t call, std::mt19937_64& rng,
                           IndexLists* lists = nullptr) const;

  MultiblockOptions o_;
  mutable std::mutex mu_;  // loader workers sample concurrently
  mutable std::map<std::tuple<int64_t, int64_t, int64_t>, std::pair<int64_t, int64_t>> fixed_;
};

}  // namespace chexworld

#endif  // CHEXWORLD_MASKS_MULTIBLOCK_H_
