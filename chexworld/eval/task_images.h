// The pixels of an evaluation: the images of its dataset (and test dataset)
// at the model's input size, read from the shards when asked, or held in
// memory when preloaded. Reading is split the way the loader runs it: the
// reader thread takes the stored sample (ReadStored; HDF5 is serialised
// anyway), a worker resizes it and its masks (Prepare). Torch-free.
#ifndef CHEXWORLD_EVAL_TASK_IMAGES_H_
#define CHEXWORLD_EVAL_TASK_IMAGES_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "chexworld/data/dataset.h"
#include "chexworld/data/image.h"

namespace chexworld {

class TaskImages {
 public:
  struct Source {
    std::shared_ptr<const Dataset> dataset;
    std::string field;               // "EvalData.dataset", for errors
    std::vector<int> mask_columns;   // per task mask: its index among the dataset's masks
  };
  // Rows 0 .. size(sources[0]) - 1 are the first source's images in order,
  // then the second's.
  TaskImages(std::vector<Source> sources, int image_size, bool with_masks);

  int64_t size() const { return size_; }
  int image_size() const { return image_size_; }
  bool with_masks() const { return with_masks_; }
  bool preloaded() const { return !images_.empty(); }

  // Reader side: the stored sample of `row` (nothing when preloaded).
  // Errors name the dataset field and the row.
  absl::Status ReadStored(int64_t row, ShardSample* out) const;
  // Worker side: `row`'s image at the input size and, with masks, its task
  // masks (M * S * S, 0/1), from what ReadStored gave.
  absl::Status Prepare(int64_t row, ShardSample&& stored, GrayImage* image, std::vector<uint8_t>* masks) const;
  // Both, on the calling thread.
  absl::Status Read(int64_t row, GrayImage* image, std::vector<uint8_t>* masks = nullptr) const;

  // Keeps `row`'s prepared pixels in memory (rows in order, from 0).
  void Keep(GrayImage image, std::vector<uint8_t> masks);

  // `sample`'s image and masks (its dataset's columns `mask_columns`) at `size`.
  static GrayImage Resized(const GrayImage& image, int size);
  static std::vector<uint8_t> ResizedMasks(const ShardSample& sample, int height, int width,
                                           const std::vector<int>& mask_columns, int size);

 private:
  std::pair<const Source*, int64_t> Locate(int64_t row) const;

  std::vector<Source> sources_;
  int64_t size_ = 0;
  int image_size_;
  bool with_masks_;
  std::vector<GrayImage> images_;  // preloaded
  std::vector<std::vector<uint8_t>> masks_;
};

}  // namespace chexworld

#endif  // CHEXWORLD_EVAL_TASK_IMAGES_H_
