// The dataset interface and its registry ("dataset"): random access to
// radiographs with labels and masks, torch-free.
#ifndef CHEXWORLD_DATA_DATASET_H_
#define CHEXWORLD_DATA_DATASET_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "chexworld/core/registry.h"
#include "chexworld/data/shard.h"

namespace chexworld {

inline constexpr char kDatasetKind[] = "dataset";

class Dataset {
 public:
  virtual ~Dataset() = default;
  virtual int64_t size() const = 0;
  // Thread-safe. Errors name the file and index.
  virtual absl::Status Read(int64_t index, ShardSample* out) const = 0;
  virtual const std::vector<std::string>& label_names() const = 0;
  virtual const std::vector<std::string>& mask_names() const = 0;
  virtual int image_height() const = 0;
  virtual int image_width() const = 0;
};

// A Dataset over a shard manifest.
class ShardDataset : public Dataset {
 public:
  // `splits`: keep only images of these stored splits (empty: all).
  explicit ShardDataset(std::unique_ptr<ShardedDataset> shards, const std::vector<std::string>& splits = {});
  int64_t size() const override { return keep_.empty() && !filtered_ ? shards_->size() : static_cast<int64_t>(keep_.size()); }
  absl::Status Read(int64_t index, ShardSample* out) const override {
    if (!filtered_) return shards_->Read(index, out);
    if (index < 0 || index >= size()) return absl::OutOfRangeError("index out of range of the split-filtered shards");
    return shards_->Read(keep_[index], out);
  }
  const std::vector<std::string>& label_names() const override { return label_names_; }
  const std::vector<std::string>& mask_names() const override { return mask_names_; }
  int image_height() const override { return shards_->manifest().height(); }
  int image_width() const override { return shards_->manifest().width(); }

 private:
  std::unique_ptr<ShardedDataset> shards_;
  std::vector<std::string> label_names_, mask_names_;
  bool filtered_ = false;
  std::vector<int64_t> keep_;  // global indices kept by the split filter
};

// Where relative data paths in configs resolve: the user's directory.
inline absl::StatusOr<std::shared_ptr<Dataset>> CreateDataset(const ComponentSpec& spec) {
  return CreateComponent<Dataset>(kDatasetKind, spec);
}

}  // namespace chexworld

#endif  // CHEXWORLD_DATA_DATASET_H_
