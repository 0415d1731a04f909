#include "chexworld/eval/image_stream.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "chexworld/core/status_macros.h"
#include "chexworld/data/transforms/dual_view.h"

namespace chexworld {
namespace {

// (pixel - mean) / std per channel, as the models were evaluated since the
// first release (division, not a multiplied inverse: same floats).
void Normalise(const GrayImage& image, const std::vector<float>& mean, const std::vector<float>& std, float* out) {
  const size_t plane = image.pixels.size();
  for (size_t c = 0; c < mean.size(); ++c) {
    for (size_t k = 0; k < plane; ++k) out[c * plane + k] = (image.pixels[k] - mean[c]) / std[c];
  }
}

void Stats(const std::string& normalization, int channels, std::vector<float>* mean, std::vector<float>* std) {
  NormalizationStats(normalization.empty() ? "imagenet" : normalization, channels, mean, std).IgnoreError();
}

}  // namespace

ImageStream::ImageStream(const TaskData& data, ImagePass pass) : images_(data.images), pass_(std::move(pass)) {
  Stats(pass_.normalization, pass_.channels, &mean_, &std_);
  pass_.batch_size = std::max(1, pass_.batch_size);
  const int64_t n = static_cast<int64_t>(pass_.rows.size());
  batches_ = (n + pass_.batch_size - 1) / pass_.batch_size;
  const int workers = data.num_workers;
  pipeline_ = std::make_unique<OrderedPrefetcher<std::vector<ShardSample>, ImageBatch>>(
      [this, n](int64_t b) -> absl::StatusOr<std::vector<ShardSample>> {
        const int64_t first = b * pass_.batch_size, last = std::min(n, first + pass_.batch_size);
        std::vector<ShardSample> stored(last - first);
        for (int64_t k = first; k < last; ++k) RETURN_IF_ERROR(images_->ReadStored(pass_.rows[k], &stored[k - first]));
        return stored;
      },
      [this](int64_t b, std::vector<ShardSample>&& stored) { return Build(b, std::move(stored)); }, workers,
      2 * std::max(1, workers) + 2);
  pipeline_->Start(0, batches_);
}

absl::StatusOr<std::optional<ImageBatch>> ImageStream::Next() {
  if (pipeline_->next() >= batches_) return std::optional<ImageBatch>();
  ASSIGN_OR_RETURN(ImageBatch batch, pipeline_->Next());
  return std::optional<ImageBatch>(std::move(batch));
}

absl::StatusOr<ImageBatch> ImageStream::Build(int64_t b, std::vector<ShardSample>&& stored) const {
  const int64_t first = b * pass_.batch_size, count = static_cast<int64_t>(stored.size());
  const int64_t s = images_->image_size(), plane = s * s, channels = pass_.channels;
  const int64_t m = static_cast<int64_t>(pass_.masks.size());
  ImageBatch out;
  out.first = first;
  out.images = torch::empty({count, channels, s, s});
  if (m > 0) out.masks = torch::empty({count, m, s, s});
  GrayImage image;
  std::vector<uint8_t> masks;
  for (int64_t i = 0; i < count; ++i) {
    const int64_t row = pass_.rows[first + i];
    RETURN_IF_ERROR(images_->Prepare(row, std::move(stored[i]), &image, m > 0 ? &masks : nullptr));
    if (pass_.alter) pass_.alter(first + i, &image);
    Normalise(image, mean_, std_, out.images.data_ptr<float>() + i * channels * plane);
    float* mp = m > 0 ? out.masks.data_ptr<float>() + i * m * plane : nullptr;
    for (int64_t c = 0; c < m; ++c) {
      const uint8_t* src = masks.data() + static_cast<size_t>(pass_.masks[c]) * plane;
      for (int64_t k = 0; k < plane; ++k) mp[c * plane + k] = src[k];
    }
  }
  if (pass_.pin_memory) {
    try {
      out.images = out.images.pin_memory();
      if (m > 0) out.masks = out.masks.pin_memory();
    } catch (const std::exception& e) {
      return absl::InternalError(absl::StrCat("pinning evaluation batch ", b, ": ", std::string(e.what()).substr(0, 300)));
    }
  }
  return out;
}

torch::Tensor ToTensor(const std::vector<GrayImage>& images, int channels, const std::string& normalization) {
  std::vector<float> mean, std;
  Stats(normalization, channels, &mean, &std);
  const int64_t s = images.empty() ? 0 : images[0].height;
  auto out = torch::empty({static_cast<int64_t>(images.size()), channels, s, s});
  for (size_t b = 0; b < images.size(); ++b) Normalise(images[b], mean, std, out.data_ptr<float>() + b * channels * s * s);
  return out;
}

}  // namespace chexworld
