// Packs a folder of radiographs (PNG, JPEG, DICOM) with optional labels and
// masks into HDF5 shards (chexworld/data/shard.h) plus a manifest.
//
// Per image: decode (DICOM windowed, MONOCHROME1 inverted) -> remove black
// borders -> resize with antialiasing to size x size ("letterbox" keeps the
// aspect and pads, "square" stretches) -> shard record with its receipt.
// Decoding runs on all cores; records are written in sorted-path order, so
// the shards are the same for any thread count. A corrupt or unsupported
// image is skipped and reported with its reason; nothing aborts the run.
#ifndef DATASETS_PACKER_H_
#define DATASETS_PACKER_H_

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "chexworld/data/image.h"
#include "chexworld/data/packing.h"
#include "chexworld/data/shard.h"
#include "datasets/labels.h"

namespace chexworld {

struct PackOptions {
  std::string input_dir;
  std::string output_dir;
  bool use_labels = false;
  LabelOptions labels;
  std::vector<std::pair<std::string, std::string>> mask_dirs;  // name -> folder of PNG masks (same stems)
  int size = 256;
  std::string resize = "letterbox";  // or "square"
  bool remove_border = true;
  float border_threshold = 0.04f;  // pixel value below which a pixel counts as border
  PixelType pixel_type = PixelType::kUint8;
  int shard_size = 1024;
  int threads = 0;                 // 0 = all cores
  bool keep_unlabeled = false;     // images without a label row: NaN labels instead of skipping
  bool progress = true;            // progress bar on stderr
  // The source's own split, stored per image (schema version 2), first found of:
  //  1. split files: (split, path) pairs, one image name per line (NIH's
  //     train_val_list.txt -> "train", test_list.txt -> "test");
  //  2. the label table's split (generic --split_column);
  //  3. a folder of the image's path named train, val / valid / validation, or test.
  std::vector<std::pair<std::string, std::string>> split_lists;
  std::string provenance;
};

struct PackReport {
  int64_t found = 0;
  int64_t packed = 0;
  std::map<std::string, std::vector<std::string>> skipped;  // reason -> files
  std::vector<std::string> label_problems;                  // rows that could not be used
  std::vector<std::string> label_names;
  std::vector<int64_t> positives;
  std::map<std::string, int64_t> splits;  // "train", "val", "test", "(none)" -> images
  std::string manifest;
  std::string ToString() const;
};

absl::StatusOr<PackReport> Pack(const PackOptions& options);

// The rules of `options` as the manifest records them.
PackingRules PackingRulesOf(const PackOptions& options);
// The split a path's folders name ("" if none): ".../valid/x.png" -> "val".
std::string SplitFromPath(const std::string& relative_path);

}  // namespace chexworld

#endif  // DATASETS_PACKER_H_
