// The pretraining loader: a reader thread pulls raw samples from the dataset
// (HDF5 calls are serialised anyway), N worker threads build the dual views,
// masks and tensors, and the trainer pops ready batches in order from a
// bounded prefetch window.
//
// Determinism: the epoch order comes from (seed, epoch); sample i's
// augmentation from (seed, epoch, dataset index); batch b's masks from (seed,
// epoch, b) and the masker call counter epoch * batches_per_epoch + b. So a
// batch is the same whatever the number of workers, and a run can restart
// at any (epoch, batch). Data-parallel ranks take every world_size-th index
// of the shared epoch order (as torch's DistributedSampler).
#ifndef CHEXWORLD_DATA_LOADER_H_
#define CHEXWORLD_DATA_LOADER_H_

#include <map>
#include <memory>
#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "chexworld/data/batch.h"
#include "chexworld/data/dataset.h"
#include "chexworld/data/prefetch.h"
#include "chexworld/data/transforms/transform.h"
#include "chexworld/masks/masker.h"

namespace chexworld {

struct LoaderOptions {
  int batch_size = 32;
  int num_workers = 1;         // 0 = build batches on the calling thread
  int prefetch_batches = 4;    // ready or in-flight batches ahead of the consumer
  uint64_t seed = 0;
  int rank = 0;
  int world_size = 1;
  int channels = 1;            // 1, or 3 (gray replicated, per-channel normalisation)
  int patch_size = 16;         // the masks' grid is output_size / patch_size
  bool two_views = true;       // false: one view (I-JEPA), image2/aug2 left undefined
  // For a CUDA trainer: the workers pack each batch into one float and one
  // int64 buffer (WorldModelBatch::Packed), page-locked with pin_memory, so
  // the step's host-to-device copy is two asynchronous transfers.
  bool pack = false;
  bool pin_memory = false;
};

class PretrainLoader {
 public:
  static absl::StatusOr<std::unique_ptr<PretrainLoader>> Create(std::shared_ptr<const Dataset> dataset,
                                                                std::shared_ptr<const ViewTransform> transform,
                                                                std::shared_ptr<const Masker> masker,
                                                                LoaderOptions options);
  ~PretrainLoader();

  int64_t batches_per_epoch() const { return batches_per_epoch_; }
  // Positions the loader at `epoch`, batch `start_batch`. Where the workers
  // already read ahead from exactly there (the previous epoch just ended),
  // they go on with their batches ready; otherwise they restart there (a
  // resume).
  void Start(int64_t epoch, int64_t start_batch = 0);
  // The next batch of the epoch; nullopt at its end. Errors name the file and index.
  absl::StatusOr<std::optional<WorldModelBatch>> Next();
  // Batches handed out so far in this epoch (the resume position).
  int64_t position() const { return next_; }
  int64_t epoch() const { return epoch_; }

  // Builds batch `b` of `epoch` on the calling thread (what workers run).
  absl::StatusOr<WorldModelBatch> BuildBatch(int64_t epoch, int64_t b) const;

 private:
  // One batch's raw samples, as the reader read them.
  struct RawBatch {
    std::vector<ShardSample> samples;
    std::vector<int64_t> indices;
  };
  PretrainLoader() = default;
  std::vector<int64_t> EpochIndices(int64_t epoch) const;
  // Reads global batch g (epoch g / batches_per_epoch): the reader thread's,
  // or the caller's without workers. `orders` caches epoch orders.
  absl::StatusOr<RawBatch> ReadBatch(int64_t epoch, int64_t b, std::map<int64_t, std::vector<int64_t>>* orders) const;
  absl::StatusOr<WorldModelBatch> Assemble(int64_t epoch, int64_t b, const std::vector<ShardSample>& samples,
                                           const std::vector<int64_t>& indices) const;

  std::shared_ptr<const Dataset> dataset_;
  std::shared_ptr<const ViewTransform> transform_;
  std::shared_ptr<const Masker> masker_;
  LoaderOptions options_;
  std::vector<float> mean_, std_;
  int64_t batches_per_epoch_ = 0;

  // Epoch state (the consumer's thread).
  int64_t epoch_ = 0;
  int64_t next_ = 0;  // next batch of epoch_ Next() returns
  bool started_ = false;

  // Global batch indices (epoch * batches_per_epoch + batch): the pipeline
  // runs on across epoch boundaries, so the next epoch's first batches are
  // ready when it starts.
  std::map<int64_t, std::vector<int64_t>> reader_orders_;  // the reader's epoch orders
  std::unique_ptr<OrderedPrefetcher<RawBatch, WorldModelBatch>> pipeline_;
};

}  // namespace chexworld

#endif  // CHEXWORLD_DATA_LOADER_H_
