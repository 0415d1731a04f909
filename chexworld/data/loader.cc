#include "chexworld/data/loader.h"

#include <algorithm>
#include <numeric>

#include "absl/strings/str_cat.h"
#include "chexworld/core/seed.h"

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

PretrainLoader::~PretrainLoader() { Stop(); }

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

void PretrainLoader::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_) t.join();
  threads_.clear();
  std::lock_guard<std::mutex> lock(mu_);
  jobs_.clear();
  ready_.clear();
  stopping_ = false;
}

void PretrainLoader::Start(int64_t epoch, int64_t start_batch) {
  const int64_t b = std::clamp<int64_t>(start_batch, 0, batches_per_epoch_);
  const int64_t global = epoch * batches_per_epoch_ + b;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!threads_.empty() && global == next_global_) {
      // The pipeline already runs there (the previous epoch ended where this
      // one starts): keep what it has read ahead.
      epoch_ = epoch;
      next_ = b;
      if (order_epoch_ != epoch) {
        order_ = EpochIndices(epoch);
        order_epoch_ = epoch;
      }
      return;
    }
  }
  Stop();
  epoch_ = epoch;
  next_ = b;
  next_global_ = global;
  read_next_ = global;
  order_ = EpochIndices(epoch);
  order_epoch_ = epoch;
  if (options_.num_workers == 0) return;
  threads_.emplace_back(&PretrainLoader::ReaderLoop, this);
  for (int i = 0; i < options_.num_workers; ++i) threads_.emplace_back(&PretrainLoader::WorkerLoop, this);
}

// Reads batches ahead of the consumer by global index (epoch * batches per
// epoch + batch), across epoch boundaries: the next epoch's first batches are
// ready when it starts.
void PretrainLoader::ReaderLoop() {
  std::map<int64_t, std::vector<int64_t>> orders;  // epoch -> its image order (this thread's)
  while (true) {
    int64_t g;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || read_next_ - next_global_ < options_.prefetch_batches; });
      if (stopping_) return;
      g = read_next_++;
    }
    Job job;
    job.epoch = g / batches_per_epoch_;
    job.batch = g % batches_per_epoch_;
    while (!orders.empty() && orders.begin()->first < job.epoch) orders.erase(orders.begin());
    auto it = orders.find(job.epoch);
    if (it == orders.end()) it = orders.emplace(job.epoch, EpochIndices(job.epoch)).first;
    job.samples.resize(options_.batch_size);
    for (int i = 0; i < options_.batch_size && job.status.ok(); ++i) {
      job.indices.push_back(it->second[job.batch * options_.batch_size + i]);
      job.status = dataset_->Read(job.indices.back(), &job.samples[i]);
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      jobs_.push_back(std::move(job));
    }
    cv_.notify_all();
  }
}

void PretrainLoader::WorkerLoop() {
  while (true) {
    Job job;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !jobs_.empty(); });
      if (stopping_) return;
      job = std::move(jobs_.front());
      jobs_.erase(jobs_.begin());
    }
    absl::StatusOr<WorldModelBatch> batch = job.status.ok() ? Assemble(job.epoch, job.batch, job.samples, job.indices)
                                                            : absl::StatusOr<WorldModelBatch>(job.status);
    {
      std::lock_guard<std::mutex> lock(mu_);
      ready_.emplace(job.epoch * batches_per_epoch_ + job.batch, std::move(batch));
    }
    cv_.notify_all();
  }
}

absl::StatusOr<std::optional<WorldModelBatch>> PretrainLoader::Next() {
  if (next_ >= batches_per_epoch_) return std::optional<WorldModelBatch>();
  if (options_.num_workers == 0) {
    auto b = BuildBatch(epoch_, next_);
    if (!b.ok()) return b.status();
    ++next_;
    ++next_global_;
    return std::optional<WorldModelBatch>(std::move(*b));
  }
  std::unique_lock<std::mutex> lock(mu_);
  const int64_t g = next_global_;
  cv_.wait(lock, [&] { return ready_.count(g) > 0; });
  auto node = ready_.extract(g);
  ++next_;
  ++next_global_;
  lock.unlock();
  cv_.notify_all();
  if (!node.mapped().ok()) return node.mapped().status();
  return std::optional<WorldModelBatch>(std::move(*node.mapped()));
}

absl::StatusOr<WorldModelBatch> PretrainLoader::BuildBatch(int64_t epoch, int64_t b) const {
  std::vector<int64_t> order = epoch == order_epoch_ && !order_.empty() ? order_ : EpochIndices(epoch);
  std::vector<ShardSample> samples(options_.batch_size);
  std::vector<int64_t> indices;
  for (int i = 0; i < options_.batch_size; ++i) {
    indices.push_back(order[b * options_.batch_size + i]);
    auto st = dataset_->Read(indices.back(), &samples[i]);
    if (!st.ok()) return st;
  }
  return Assemble(epoch, b, samples, indices);
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
