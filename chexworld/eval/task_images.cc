#include "chexworld/eval/task_images.h"

#include "absl/strings/str_cat.h"
#include "chexworld/core/status_macros.h"
#include "chexworld/data/resize.h"

namespace chexworld {

TaskImages::TaskImages(std::vector<Source> sources, int image_size, bool with_masks)
    : sources_(std::move(sources)), image_size_(image_size), with_masks_(with_masks) {
  for (const Source& s : sources_) size_ += s.dataset->size();
}

std::pair<const TaskImages::Source*, int64_t> TaskImages::Locate(int64_t row) const {
  for (const Source& s : sources_) {
    if (row < s.dataset->size()) return {&s, row};
    row -= s.dataset->size();
  }
  return {nullptr, row};
}

absl::Status TaskImages::ReadStored(int64_t row, ShardSample* out) const {
  if (preloaded()) return absl::OkStatus();
  auto [source, index] = Locate(row);
  if (source == nullptr || row < 0) return absl::OutOfRangeError(absl::StrCat("image row ", row, " of ", size_));
  RETURN_IF_ERROR_CTX(source->dataset->Read(index, out), source->field, " image ", index);
  if (out->image.empty()) return absl::DataLossError(absl::StrCat(source->field, " image ", index, " is empty"));
  return absl::OkStatus();
}

GrayImage TaskImages::Resized(const GrayImage& image, int size) {
  return image.height == size && image.width == size ? image : Resize(image, size, size);
}

std::vector<uint8_t> TaskImages::ResizedMasks(const ShardSample& sample, int h, int w,
                                              const std::vector<int>& mask_columns, int size) {
  std::vector<uint8_t> out;
  out.reserve(mask_columns.size() * static_cast<size_t>(size) * size);
  for (int k : mask_columns) {
    GrayImage mask(h, w);
    const uint8_t* m = sample.masks.data() + static_cast<size_t>(k) * h * w;
    for (int p = 0; p < h * w; ++p) mask.pixels[p] = m[p];
    const GrayImage r = Resized(mask, size);
    for (float v : r.pixels) out.push_back(v >= 0.5f ? 1 : 0);
  }
  return out;
}

absl::Status TaskImages::Prepare(int64_t row, ShardSample&& stored, GrayImage* image,
                                 std::vector<uint8_t>* masks) const {
  if (preloaded()) {
    if (row < 0 || row >= static_cast<int64_t>(images_.size())) {
      return absl::OutOfRangeError(absl::StrCat("image row ", row, " of ", images_.size()));
    }
    *image = images_[row];
    if (masks != nullptr && with_masks_) *masks = masks_[row];
    return absl::OkStatus();
  }
  auto [source, index] = Locate(row);
  if (source == nullptr) return absl::OutOfRangeError(absl::StrCat("image row ", row, " of ", size_));
  if (masks != nullptr && with_masks_) {
    *masks = ResizedMasks(stored, source->dataset->image_height(), source->dataset->image_width(),
                          source->mask_columns, image_size_);
  }
  *image = stored.image.height == image_size_ && stored.image.width == image_size_
               ? std::move(stored.image)
               : Resize(stored.image, image_size_, image_size_);
  return absl::OkStatus();
}

absl::Status TaskImages::Read(int64_t row, GrayImage* image, std::vector<uint8_t>* masks) const {
  ShardSample stored;
  RETURN_IF_ERROR(ReadStored(row, &stored));
  return Prepare(row, std::move(stored), image, masks);
}

void TaskImages::Keep(GrayImage image, std::vector<uint8_t> masks) {
  images_.push_back(std::move(image));
  if (with_masks_) masks_.push_back(std::move(masks));
}

}  // namespace chexworld
