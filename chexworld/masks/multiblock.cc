#include "chexworld/masks/multiblock.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"

namespace chexworld {

absl::StatusOr<MultiblockOptions> ResolveMultiblockOptions(const MultiblockOptions& in) {
  MultiblockOptions o = in;
  auto def = [](float v, float d) { return v == 0 ? d : v; };
  if (o.num_targets() == 0) o.set_num_targets(4);
  o.set_target_scale_min(def(o.target_scale_min(), 0.15f));
  o.set_target_scale_max(def(o.target_scale_max(), 0.2f));
  o.set_aspect_min(def(o.aspect_min(), 0.75f));
  o.set_aspect_max(def(o.aspect_max(), 1.5f));
  o.set_context_scale_min(def(o.context_scale_min(), 0.75f));
  o.set_context_scale_max(def(o.context_scale_max(), 1.0f));
  if (o.tries_per_relaxation() == 0) o.set_tries_per_relaxation(20);
  auto bad = [](absl::string_view f, double v, absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat("MultiblockOptions.", f, " = ", v, ": ", why));
  };
  if (o.num_targets() < 1) return bad("num_targets", o.num_targets(), "must be >= 1");
  if (!(o.target_scale_min() > 0 && o.target_scale_min() <= o.target_scale_max() && o.target_scale_max() <= 1)) {
    return bad("target_scale_min", o.target_scale_min(), "need 0 < min <= max <= 1");
  }
  if (!(o.context_scale_min() > 0 && o.context_scale_min() <= o.context_scale_max() && o.context_scale_max() <= 1)) {
    return bad("context_scale_min", o.context_scale_min(), "need 0 < min <= max <= 1");
  }
  if (!(o.aspect_min() > 0 && o.aspect_min() <= o.aspect_max())) return bad("aspect_min", o.aspect_min(), "need 0 < min <= max");
  if (o.min_keep() < 0) return bad("min_keep", o.min_keep(), "must be >= 0");
  if (o.tries_per_relaxation() < 1) return bad("tries_per_relaxation", o.tries_per_relaxation(), "must be >= 1");
  return o;
}

int MultiblockMasker::min_keep(int64_t gh, int64_t gw) const {
  if (o_.min_keep() > 0) return o_.min_keep();
  return gh * gw > 64 ? 10 : 4;
}

std::array<int, 4> MultiblockMasker::BlockSizes(int64_t gh, int64_t gw, uint64_t call) const {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(call);
  auto draw = [&]() { return at::rand({1}, gen).item<float>(); };
  auto size = [&](double smin, double smax, double amin, double amax) {
    const double r1 = draw();
    const double scale = smin + r1 * (smax - smin);
    const int keep = static_cast<int>(gh * gw * scale);
    const double r2 = draw();
    const double aspect = std::exp(std::log(amin) + r2 * (std::log(amax) - std::log(amin)));
    // Python's round() is round-half-to-even, as nearbyint under the default mode.
    int h = static_cast<int>(std::nearbyint(std::sqrt(keep * aspect)));
    int w = static_cast<int>(std::nearbyint(std::sqrt(keep / aspect)));
    return std::pair<int, int>{std::min<int>(gh, h), std::min<int>(gw, w)};
  };
  auto [ph, pw] = size(o_.target_scale_min(), o_.target_scale_max(), o_.aspect_min(), o_.aspect_max());
  auto [eh, ew] = size(o_.context_scale_min(), o_.context_scale_max(), 1.0, 1.0);
  return {ph, pw, eh, ew};
}

namespace {

struct Grid {
  int64_t h, w;
};

// A block of size (bh, bw) at a uniform position; returns the kept indices
// (inside the block and inside every active region) and the block's complement.
std::vector<int64_t> PlaceBlock(const Grid& g, int bh, int bw, const std::vector<std::vector<uint8_t>>& regions,
                                size_t active_regions, std::mt19937_64& rng, std::vector<uint8_t>* complement) {
  const int top = std::uniform_int_distribution<int>(0, static_cast<int>(g.h) - bh)(rng);
  const int left = std::uniform_int_distribution<int>(0, static_cast<int>(g.w) - bw)(rng);
  std::vector<int64_t> kept;
  if (complement) complement->assign(g.h * g.w, 1);
  for (int y = top; y < top + bh; ++y) {
    for (int x = left; x < left + bw; ++x) {
      const int64_t idx = y * g.w + x;
      if (complement) (*complement)[idx] = 0;
      bool ok = true;
      for (size_t k = 0; k < active_regions && ok; ++k) ok = regions[k][idx] != 0;
      if (ok) kept.push_back(idx);
    }
  }
  return kept;
}

}  // namespace

MaskBatch MultiblockMasker::SampleVariable(int64_t batch, int64_t gh, int64_t gw, uint64_t call,
                                           std::mt19937_64& rng, IndexLists* lists) const {
  const auto sizes = BlockSizes(gh, gw, call);
  const int ph = std::max(1, sizes[0]), pw = std::max(1, sizes[1]), eh = std::max(1, sizes[2]), ew = std::max(1, sizes[3]);
  const Grid g{gh, gw};
  const int keep = min_keep(gh, gw);
  MaskBatch out;
  out.batch = batch;
  out.blocks = {ph, pw, eh, ew};
  std::vector<std::vector<int64_t>> ctx(batch), tgt(batch);
  int64_t min_ctx = gh * gw, min_tgt = gh * gw;
  const std::vector<std::vector<uint8_t>> none;
  for (int64_t b = 0; b < batch; ++b) {
    std::vector<std::vector<uint8_t>> complements(o_.num_targets());
    std::vector<int64_t> merged;
    // Targets: valid when larger than min_keep; a block that cannot be is accepted as is.
    const int target_keep = std::min(keep, ph * pw - 1);
    if (target_keep < keep) ++out.relaxations;
    for (int t = 0; t < o_.num_targets(); ++t) {
      std::vector<int64_t> m;
      do {
        m = PlaceBlock(g, ph, pw, none, 0, rng, &complements[t]);
      } while (static_cast<int>(m.size()) <= target_keep);
      merged.insert(merged.end(), m.begin(), m.end());
    }
    std::sort(merged.begin(), merged.end());
    merged.erase(std::unique(merged.begin(), merged.end()), merged.end());
    // Context: the block minus every target block; relax on repeated failure.
    size_t active = o_.allow_overlap() ? 0 : complements.size();
    int failures = 0, context_keep = keep;
    std::vector<int64_t> c;
    while (true) {
      c = PlaceBlock(g, eh, ew, complements, active, rng, nullptr);
      if (static_cast<int>(c.size()) > context_keep) break;
      if (++failures % o_.tries_per_relaxation() == 0) {
        ++out.relaxations;
        if (active > 0) {
          --active;  // drop the last remaining exclusion constraint (official)
        } else {
          context_keep = std::min(context_keep, eh * ew - 1);  // beyond the official: never hang
        }
      }
    }
    min_tgt = std::min<int64_t>(min_tgt, merged.size());
    min_ctx = std::min<int64_t>(min_ctx, c.size());
    tgt[b] = std::move(merged);
    ctx[b] = std::move(c);
  }
  out.context_len = min_ctx;
  out.target_len = min_tgt;
  for (int64_t b = 0; b < batch; ++b) {
    out.context.insert(out.context.end(), ctx[b].begin(), ctx[b].begin() + min_ctx);
    out.target.insert(out.target.end(), tgt[b].begin(), tgt[b].begin() + min_tgt);
  }
  if (lists != nullptr) *lists = {std::move(ctx), std::move(tgt)};
  return out;
}

namespace {

// `k` of `indices` drawn uniformly (partial Fisher-Yates), sorted, appended
// to `out`. A prefix of the sorted list would keep the grid's first rows.
void AppendSubset(std::vector<int64_t> indices, int64_t k, std::mt19937_64& rng, std::vector<int64_t>& out) {
  for (int64_t i = 0; i < k; ++i) {
    std::uniform_int_distribution<size_t> pick(i, indices.size() - 1);
    std::swap(indices[i], indices[pick(rng)]);
  }
  std::sort(indices.begin(), indices.begin() + k);
  out.insert(out.end(), indices.begin(), indices.begin() + k);
}

}  // namespace

std::pair<int64_t, int64_t> MultiblockMasker::FixedLengths(int64_t batch, int64_t gh, int64_t gw) const {
  std::lock_guard<std::mutex> lock(mu_);
  const auto key = std::make_tuple(batch, gh, gw);
  auto it = fixed_.find(key);
  if (it != fixed_.end()) return it->second;
  constexpr int kBatches = 512;
  std::mt19937_64 rng(0);
  std::vector<int64_t> context, target;
  for (int i = 0; i < kBatches; ++i) {
    const MaskBatch m = SampleVariable(batch, gh, gw, static_cast<uint64_t>(i), rng);
    context.push_back(m.context_len);
    target.push_back(m.target_len);
  }
  std::sort(context.begin(), context.end());
  std::sort(target.begin(), target.end());
  const std::pair<int64_t, int64_t> lengths{context[kBatches / 10], target[kBatches / 10]};
  fixed_.emplace(key, lengths);
  return lengths;
}

MaskBatch MultiblockMasker::Sample(int64_t batch, int64_t gh, int64_t gw, uint64_t call, std::mt19937_64& rng) const {
  if (!o_.fixed_lengths()) return SampleVariable(batch, gh, gw, call, rng);
  const auto [ke, kp] = FixedLengths(batch, gh, gw);
  // Draws again (new block sizes: another call number) until the batch is long
  // enough; one batch in ten needs it, so a thousand attempts never run out.
  // The block-size generator keeps only 32 bits of its seed: a redraw's call
  // number is the call and attempt mixed (SplitMix64) into those bits.
  for (uint64_t attempt = 0; attempt < 1000; ++attempt) {
    uint64_t redraw = call;
    if (attempt > 0) {
      redraw = call ^ (attempt * 0x9E3779B97F4A7C15ULL);
      redraw = (redraw ^ (redraw >> 30)) * 0xBF58476D1CE4E5B9ULL;
      redraw = (redraw ^ (redraw >> 27)) * 0x94D049BB133111EBULL;
      redraw ^= redraw >> 31;
    }
    IndexLists lists;
    MaskBatch m = SampleVariable(batch, gh, gw, redraw, rng, &lists);
    if (m.context_len < ke || m.target_len < kp) continue;
    MaskBatch out;
    out.batch = batch;
    out.context_len = ke;
    out.target_len = kp;
    out.relaxations = m.relaxations;
    out.blocks = m.blocks;
    out.draws = static_cast<int>(attempt) + 1;
    for (int64_t b = 0; b < batch; ++b) {
      AppendSubset(std::move(lists.first[b]), ke, rng, out.context);
      AppendSubset(std::move(lists.second[b]), kp, rng, out.target);
    }
    return out;
  }
  TORCH_CHECK(false, "multiblock masks: no batch of ", batch, " reached the fixed lengths (", ke, ", ", kp,
              ") in 1000 draws");
}

namespace {

absl::Status ValidateMultiblock(const MultiblockOptions& o) { return ResolveMultiblockOptions(o).status(); }

absl::StatusOr<std::shared_ptr<Masker>> CreateMultiblock(const MultiblockOptions& o) {
  auto r = ResolveMultiblockOptions(o);
  if (!r.ok()) return r.status();
  return std::shared_ptr<Masker>(std::make_shared<MultiblockMasker>(*r));
}

// "random": a random permutation split into context and targets.
class RandomMasker : public Masker {
 public:
  explicit RandomMasker(const RandomMaskOptions& o) : o_(o) {}
  MaskBatch Sample(int64_t batch, int64_t gh, int64_t gw, uint64_t, std::mt19937_64& rng) const override {
    const int64_t n = gh * gw;
    MaskBatch out;
    out.batch = batch;
    out.context_len = std::max<int64_t>(1, static_cast<int64_t>(n * o_.context_ratio()));
    out.target_len = std::max<int64_t>(1, std::min<int64_t>(n - out.context_len, static_cast<int64_t>(n * o_.target_ratio())));
    std::vector<int64_t> perm(n);
    for (int64_t b = 0; b < batch; ++b) {
      for (int64_t i = 0; i < n; ++i) perm[i] = i;
      std::shuffle(perm.begin(), perm.end(), rng);
      std::vector<int64_t> c(perm.begin(), perm.begin() + out.context_len);
      std::vector<int64_t> t(perm.begin() + out.context_len, perm.begin() + out.context_len + out.target_len);
      std::sort(c.begin(), c.end());
      std::sort(t.begin(), t.end());
      out.context.insert(out.context.end(), c.begin(), c.end());
      out.target.insert(out.target.end(), t.begin(), t.end());
    }
    return out;
  }
  bool fixed_lengths() const override { return true; }

 private:
  RandomMaskOptions o_;
};

RandomMaskOptions ResolveRandom(const RandomMaskOptions& in) {
  RandomMaskOptions o = in;
  if (o.context_ratio() == 0) o.set_context_ratio(0.27f);
  if (o.target_ratio() == 0) o.set_target_ratio(0.29f);
  return o;
}

absl::Status ValidateRandom(const RandomMaskOptions& in) {
  RandomMaskOptions o = ResolveRandom(in);
  if (o.context_ratio() <= 0 || o.target_ratio() <= 0 || o.context_ratio() + o.target_ratio() > 1) {
    return absl::InvalidArgumentError("RandomMaskOptions: need ratios > 0 with context_ratio + target_ratio <= 1");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<Masker>> CreateRandom(const RandomMaskOptions& o) {
  return std::shared_ptr<Masker>(std::make_shared<RandomMasker>(ResolveRandom(o)));
}

}  // namespace

CHEXWORLD_REGISTER_COMPONENT("masker", "multiblock", MultiblockOptions, Masker,
                             "CheXWorld multi-block masks: 4 merged target blocks, context block minus targets",
                             &CreateMultiblock, &ValidateMultiblock);
CHEXWORLD_REGISTER_COMPONENT("masker", "random", RandomMaskOptions, Masker,
                             "uniformly random disjoint context and target patches (ablation)", &CreateRandom,
                             &ValidateRandom);

}  // namespace chexworld
