#include "chexworld/data/loader.h"

#include <algorithm>
#include <numeric>

#include "absl/strings/str_cat.h"
#include "chexworld/core/seed.h"
#include "chexworld/core/status_macros.h"

namespace chexworld {
namespace {


uint64_t Seed(uint64_t a, uint64_t b, uint64_t c, uint64_t d) { return MixSeed(MixSeed(MixSeed(MixSeed(a) ^ b) ^ c) ^ d); }

constexpr uint64_t kOrderStream = 1, kSampleStream = 2, kMaskStream = 3;

}  // namespace

absl::StatusOr<std::unique_ptr<PretrainLoader>> PretrainLoader::Create(std::shared_ptr<const Dataset> dataset,
                                                                       std::shared_ptr<const ViewTransform> transform,
                                                                       std::shared_ptr<const Masker> masker,
                                                                       LoaderOptions options) {
  if (options.batch_size < 1) return absl::InvalidArgumentError("data.batch_size must be >= 1");
  if (options.num_workers < 0) return absl::InvalidArgumentError("data.num_workers must be >= 0");
  if (options.world_size < 1 || options.rank < 0 || options.rank >= options.world_size) {
    return absl::InvalidArgumentError(absl::StrCat("rank ", options.rank, " of world size ", options.world_size));
  }
  if (transform->output_size() % options.patch_size != 0) {
    return absl::InvalidArgumentError(absl::StrCat("transform output_size ", transform->output_size(),
                                                   " is not a multiple of the encoder's patch size ", options.patch_size));
  }
  std::unique_ptr<PretrainLoader> l(new PretrainLoader());
  l->dataset_ = std::move(dataset);
  l->transform_ = std::move(transform);
  l->masker_ = std::move(masker);
  l->options_ = options;
  l->options_.prefetch_batches = std::max(1, options.prefetch_batches);
  auto st = NormalizationStats(l->transform_->normalization(), options.channels, &l->mean_, &l->std_);
  if (!st.ok()) return st;
  const int64_t per_rank = l->dataset_->size() / options.world_size;
  l->batches_per_epoch_ = per_rank / options.batch_size;
  if (l->batches_per_epoch_ == 0) {
    return absl::InvalidArgumentError(absl::StrCat("the dataset has ", l->dataset_->size(), " images: fewer than one batch of ",
                                                   options.batch_size, " per rank (world size ", options.world_size, ")"));
  }
  return l;
}

PretrainLoader::~PretrainLoader() { pipeline_.reset(); }

std::vector<int64_t> PretrainLoader::EpochIndices(int64_t epoch) const {
  std::vector<int64_t> all(dataset_->size());
  std::iota(all.begin(), all.end(), 0);
  std::mt19937_64 rng(Seed(options_.seed, kOrderStream, epoch, 0));
  std::shuffle(all.begin(), all.end(), rng);
  std::vector<int64_t> mine;
  for (size_t i = options_.rank; i < all.size(); i += options_.world_size) mine.push_back(all[i]);
  mine.resize(batches_per_epoch_ * options_.batch_size);  // drop_last
  return mine;
}

void PretrainLoader::Start(int64_t epoch, int64_t start_batch) {
  const int64_t b = std::clamp<int64_t>(start_batch, 0, batches_per_epoch_);
  const int64_t global = epoch * batches_per_epoch_ + b;
  epoch_ = epoch;
  next_ = b;
  if (pipeline_ == nullptr) {
    pipeline_ = std::make_unique<OrderedPrefetcher<RawBatch, WorldModelBatch>>(
        [this](int64_t g) { return ReadBatch(g / batches_per_epoch_, g % batches_per_epoch_, &reader_orders_); },
        [this](int64_t g, RawBatch&& raw) {
          return Assemble(g / batches_per_epoch_, g % batches_per_epoch_, raw.samples, raw.indices);
        },
        options_.num_workers, options_.prefetch_batches);
  }
  // Where the pipeline already runs from exactly here (the previous epoch
  // just ended), its batches read ahead are kept; otherwise it restarts (a
  // resume).
  if (started_ && pipeline_->next() == global) return;
  pipeline_->Start(global);
  started_ = true;
}

absl::StatusOr<PretrainLoader::RawBatch> PretrainLoader::ReadBatch(
    int64_t epoch, int64_t b, std::map<int64_t, std::vector<int64_t>>* orders) const {
  while (!orders->empty() && orders->begin()->first < epoch) orders->erase(orders->begin());
  auto it = orders->find(epoch);
  if (it == orders->end()) it = orders->emplace(epoch, EpochIndices(epoch)).first;
  RawBatch raw;
  raw.samples.resize(options_.batch_size);
  for (int i = 0; i < options_.batch_size; ++i) {
    raw.indices.push_back(it->second[b * options_.batch_size + i]);
    auto st = dataset_->Read(raw.indices.back(), &raw.samples[i]);
    if (!st.ok()) return st;
  }
  return raw;
}

absl::StatusOr<std::optional<WorldModelBatch>> PretrainLoader::Next() {
  if (next_ >= batches_per_epoch_) return std::optional<WorldModelBatch>();
  if (!started_) Start(epoch_, next_);
  absl::StatusOr<WorldModelBatch> batch = pipeline_->Next();
  ++next_;
  if (!batch.ok()) return batch.status();
  return std::optional<WorldModelBatch>(std::move(*batch));
}

absl::StatusOr<WorldModelBatch> PretrainLoader::BuildBatch(int64_t epoch, int64_t b) const {
  std::map<int64_t, std::vector<int64_t>> orders;
  ASSIGN_OR_RETURN(RawBatch raw, ReadBatch(epoch, b, &orders));
  return Assemble(epoch, b, raw.samples, raw.indices);
}

absl::StatusOr<WorldModelBatch> PretrainLoader::Assemble(int64_t epoch, int64_t b, const std::vector<ShardSample>& samples,
                                                         const std::vector<int64_t>& indices) const {
  const int64_t n = options_.batch_size, c = options_.channels, s = transform_->output_size();
  const int64_t plane = s * s;
  auto images = [&] { return torch::empty({n, c, s, s}); };
  torch::Tensor v1 = images(), a1 = images(), v2, a2;
  if (options_.two_views) v2 = images(), a2 = images();
  auto act1 = torch::empty({n, kActionDim}), act2 = torch::empty({n, kActionDim});
  auto rel21 = torch::empty({n, 4}), rel12 = torch::empty({n, 4});
  auto put = [&](torch::Tensor& dst, int64_t i, const GrayImage& img) {
    float* out = dst.data_ptr<float>() + i * c * plane;
    for (int64_t ch = 0; ch < c; ++ch) {
      const float m = mean_[ch], inv = 1.0f / std_[ch];
      for (int64_t p = 0; p < plane; ++p) out[ch * plane + p] = (img.pixels[p] - m) * inv;
    }
  };
  for (int64_t i = 0; i < n; ++i) {
    if (samples[i].image.empty()) return absl::DataLossError(absl::StrCat("sample ", indices[i], " is empty"));
    std::mt19937_64 rng(Seed(options_.seed, kSampleStream, epoch, indices[i]));
    DualViewSample d = transform_->Apply(samples[i].image, rng);
    put(v1, i, d.view1);
    put(a1, i, d.aug1);
    if (options_.two_views) {
      put(v2, i, d.view2);
      put(a2, i, d.aug2);
    }
    std::copy(d.action1.begin(), d.action1.end(), act1.data_ptr<float>() + i * kActionDim);
    std::copy(d.action2.begin(), d.action2.end(), act2.data_ptr<float>() + i * kActionDim);
    std::copy(d.rel_pos_21.begin(), d.rel_pos_21.end(), rel21.data_ptr<float>() + i * 4);
    std::copy(d.rel_pos_12.begin(), d.rel_pos_12.end(), rel12.data_ptr<float>() + i * 4);
  }
  // Masks are drawn for the global batch (all ranks) and each rank takes its
  // rows: local row i is global row i * world_size + rank, as the epoch order
  // interleaves ranks. So N ranks with batch B see the masks one process with
  // batch N * B would (sizes, truncation lengths and the view-2 permutation).
  const int64_t grid = s / options_.patch_size;
  const int64_t world = options_.world_size, global = n * world;
  std::mt19937_64 mask_rng(Seed(options_.seed, kMaskStream, epoch, b));
  MaskBatch m = masker_->Sample(global, grid, grid, static_cast<uint64_t>(epoch * batches_per_epoch_ + b), mask_rng);
  auto all_enc = torch::from_blob(m.context.data(), {global, m.context_len}, torch::kInt64).clone();
  auto all_pred = torch::from_blob(m.target.data(), {global, m.target_len}, torch::kInt64).clone();
  auto mine = torch::arange(n, torch::kInt64) * world + options_.rank;
  WorldModelBatch out;
  out.image1 = v1;
  out.image_aug1 = a1;
  out.action1 = act1;
  out.masks_enc1 = all_enc.index_select(0, mine);
  out.masks_pred1 = all_pred.index_select(0, mine);
  if (options_.two_views) {
    out.image2 = v2;
    out.image_aug2 = a2;
    out.action2 = act2;
    out.rel_pos_21 = rel21;
    out.rel_pos_12 = rel12;
    // View 2 borrows another sample's masks (official: a batch permutation).
    std::vector<int64_t> perm(global);
    std::iota(perm.begin(), perm.end(), 0);
    std::shuffle(perm.begin(), perm.end(), mask_rng);
    auto p = torch::from_blob(perm.data(), {global}, torch::kInt64).clone().index_select(0, mine);
    out.masks_enc2 = all_enc.index_select(0, p);
    out.masks_pred2 = all_pred.index_select(0, p);
  }
  if (!options_.pack) return out;
  try {
    return out.Packed(options_.pin_memory);
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("packing batch ", b, " of epoch ", epoch, ": ",
                                            std::string(e.what()).substr(0, 300)));
  }
}

}  // namespace chexworld
