// The masker interface and its registry ("masker"). A masker draws, for a
// batch on a grid_h x grid_w patch grid, the context indices each sample's
// context encoder keeps and the target indices the predictor predicts; all
// samples of a batch get equal lengths (so the batch is a tensor).
#ifndef CHEXWORLD_MASKS_MASKER_H_
#define CHEXWORLD_MASKS_MASKER_H_

#include <array>
#include <cstdint>
#include <random>
#include <vector>

#include "chexworld/core/registry.h"

namespace chexworld {

inline constexpr char kMaskerKind[] = "masker";

struct MaskBatch {
  int64_t batch = 0;
  int64_t context_len = 0;  // Ke
  int64_t target_len = 0;   // Kp
  std::vector<int64_t> context;  // batch * Ke, sorted per sample
  std::vector<int64_t> target;   // batch * Kp, sorted per sample
  int64_t relaxations = 0;       // times a constraint had to be relaxed (see multiblock)
  // Diagnostics: the block sizes (target h, w, context h, w) of the batch, where
  // the masker has blocks, and how many batches were drawn to make this one.
  std::array<int, 4> blocks{};
  int draws = 1;
};

class Masker {
 public:
  virtual ~Masker() = default;
  // `call` indexes the masker call in the run (the official collator's
  // counter: it seeds the batch-shared block sizes); `rng` draws positions.
  virtual MaskBatch Sample(int64_t batch, int64_t grid_h, int64_t grid_w, uint64_t call,
                           std::mt19937_64& rng) const = 0;
  // Whether every batch of a given size and grid gets the same lengths (a
  // fixed-shape step; trainer.cuda_graph needs it).
  virtual bool fixed_lengths() const = 0;
};

inline absl::StatusOr<std::shared_ptr<Masker>> CreateMasker(const ComponentSpec& spec) {
  return CreateComponent<Masker>(kMaskerKind, spec);
}

}  // namespace chexworld

#endif  // CHEXWORLD_MASKS_MASKER_H_
