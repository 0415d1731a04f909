// Passes over an evaluation's images through the loader's reader and worker
// threads (chexworld/data/prefetch.h), as normalised batches: the reader
// takes stored samples from the shards, the workers resize, alter (an
// appearance shift, a fine-tuning augmentation) and collate them, in order
// and at most a few batches ahead. Memory stays at a few batches whatever
// the number of images.
#ifndef CHEXWORLD_EVAL_IMAGE_STREAM_H_
#define CHEXWORLD_EVAL_IMAGE_STREAM_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "absl/status/statusor.h"
#include "chexworld/data/image.h"
#include "chexworld/data/prefetch.h"
#include "chexworld/data/shard.h"
#include "chexworld/eval/task_data.h"

namespace chexworld {

// Which images a pass reads, and how.
struct ImagePass {
  std::vector<int64_t> rows;          // task rows, in the order the batches hold them
  int batch_size = 64;
  int channels = 1;                   // the encoder's (grey replicated)
  std::string normalization = "imagenet";
  std::vector<int> masks;             // segmentation: these of TaskData::mask_names as (B, M, S, S); empty: none
  // The image at position k of `rows`, altered on a worker (a shift, an
  // augmentation); null: as stored.
  std::function<void(int64_t k, GrayImage* image)> alter;
  bool pin_memory = false;            // page-locked batches, for asynchronous copies to a GPU
};

struct ImageBatch {
  torch::Tensor images;  // (B, C, S, S) float32, normalised
  torch::Tensor masks;   // (B, M, S, S) float32 0/1, when the pass asks for masks
  int64_t first = 0;     // position in ImagePass::rows of its first image
};

class ImageStream {
 public:
  ImageStream(const TaskData& data, ImagePass pass);
  int64_t batches() const { return batches_; }
  // The next batch; nullopt after the last. Errors name the dataset and image.
  absl::StatusOr<std::optional<ImageBatch>> Next();

 private:
  absl::StatusOr<ImageBatch> Build(int64_t b, std::vector<ShardSample>&& stored) const;

  std::shared_ptr<const TaskImages> images_;
  ImagePass pass_;
  std::vector<float> mean_, std_;
  int64_t batches_ = 0;
  std::unique_ptr<OrderedPrefetcher<std::vector<ShardSample>, ImageBatch>> pipeline_;
};

// The normalised (B, C, S, S) tensor of `images` (tests and one-off images).
torch::Tensor ToTensor(const std::vector<GrayImage>& images, int channels, const std::string& normalization);

}  // namespace chexworld

#endif  // CHEXWORLD_EVAL_IMAGE_STREAM_H_
