// The multi-block masks' statistics, variable lengths (the official collator:
// each batch cut to its own minimum) against fixed lengths
// (MultiblockOptions.fixed_lengths), over many batches: kept context and
// target lengths, block sizes, context/target overlap, how evenly the grid is
// covered, and how often a fixed-length batch was drawn again. Prints a
// markdown table (experiments/results/fixed_length_masks.md).
//
//   bazel run //benchmarks:mask_stats -- --grid=14 --batch=128 --batches=2000
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include <gflags/gflags.h>

#include "chexworld/core/flags.h"
#include "chexworld/masks/multiblock.h"

DEFINE_int32(grid, 14, "patch grid side (224 px / 16)");
DEFINE_int32(batch, 128, "images per batch");
DEFINE_int32(batches, 2000, "batches drawn per sampler");

namespace chexworld {
namespace {

struct Stats {
  std::vector<double> ke, kp, target_block, context_block, overlap;
  std::vector<double> target_cover, context_cover;  // per grid position: how often kept
  double draws = 0;
};

double Mean(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return v.empty() ? 0 : s / v.size();
}

double Sd(const std::vector<double>& v) {
  const double m = Mean(v);
  double s = 0;
  for (double x : v) s += (x - m) * (x - m);
  return v.size() < 2 ? 0 : std::sqrt(s / (v.size() - 1));
}

// max/min over positions of how often each is kept, and the coefficient of
// variation (sd/mean) over positions: how evenly the grid is covered.
std::string Evenness(const std::vector<double>& cover) {
  const auto [lo, hi] = std::minmax_element(cover.begin(), cover.end());
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.3f (max/min %.2f)", Sd(cover) / Mean(cover), *hi / std::max(*lo, 1e-12));
  return buf;
}

Stats Collect(bool fixed) {
  MultiblockOptions o;
  o.set_fixed_lengths(fixed);
  MultiblockMasker masker(*ResolveMultiblockOptions(o));
  const int64_t g = FLAGS_grid, n = g * g, b = FLAGS_batch;
  std::mt19937_64 rng(1234);
  Stats s;
  s.target_cover.assign(n, 0);
  s.context_cover.assign(n, 0);
  for (int i = 0; i < FLAGS_batches; ++i) {
    const MaskBatch m = masker.Sample(b, g, g, 100000 + i, rng);
    s.ke.push_back(static_cast<double>(m.context_len) / n);
    s.kp.push_back(static_cast<double>(m.target_len) / n);
    s.target_block.push_back(static_cast<double>(m.blocks[0] * m.blocks[1]) / n);
    s.context_block.push_back(static_cast<double>(m.blocks[2] * m.blocks[3]) / n);
    s.draws += m.draws;
    for (int64_t k = 0; k < b; ++k) {
      std::vector<int64_t> c(m.context.begin() + k * m.context_len, m.context.begin() + (k + 1) * m.context_len);
      std::vector<int64_t> t(m.target.begin() + k * m.target_len, m.target.begin() + (k + 1) * m.target_len);
      std::vector<int64_t> both;
      std::set_intersection(c.begin(), c.end(), t.begin(), t.end(), std::back_inserter(both));
      s.overlap.push_back(static_cast<double>(both.size()) / std::max<size_t>(1, c.size()));
      for (int64_t x : c) s.context_cover[x] += 1;
      for (int64_t x : t) s.target_cover[x] += 1;
    }
  }
  s.draws /= FLAGS_batches;
  return s;
}

int Main() {
  const Stats v = Collect(false), f = Collect(true);
  MultiblockMasker fixed([] {
    MultiblockOptions o;
    o.set_fixed_lengths(true);
    return *ResolveMultiblockOptions(o);
  }());
  const auto [ke, kp] = fixed.FixedLengths(FLAGS_batch, FLAGS_grid, FLAGS_grid);
  std::printf("grid %dx%d, batch %d, %d batches per sampler; fixed lengths Ke = %ld, Kp = %ld\n\n", FLAGS_grid,
              FLAGS_grid, FLAGS_batch, FLAGS_batches, static_cast<long>(ke), static_cast<long>(kp));
  std::printf("| statistic (fractions of the %d patches) | variable (official) | fixed lengths |\n|---|---|---|\n",
              FLAGS_grid * FLAGS_grid);
  auto row = [](const char* name, const std::vector<double>& a, const std::vector<double>& b) {
    std::printf("| %s | %.4f ± %.4f | %.4f ± %.4f |\n", name, Mean(a), Sd(a), Mean(b), Sd(b));
  };
  row("context kept (Ke / N), per batch", v.ke, f.ke);
  row("targets kept (Kp / N), per batch", v.kp, f.kp);
  row("target block area", v.target_block, f.target_block);
  row("context block area", v.context_block, f.context_block);
  row("context patches that are targets", v.overlap, f.overlap);
  std::printf("| unevenness of target coverage over the grid (sd/mean) | %s | %s |\n", Evenness(v.target_cover).c_str(),
              Evenness(f.target_cover).c_str());
  std::printf("| unevenness of context coverage over the grid (sd/mean) | %s | %s |\n",
              Evenness(v.context_cover).c_str(), Evenness(f.context_cover).c_str());
  std::printf("| batches drawn per batch kept | %.3f | %.3f |\n", v.draws, f.draws);
  return 0;
}

}  // namespace
}  // namespace chexworld

int main(int argc, char** argv) {
  chexworld::ParseFlags("the multi-block masks' statistics, variable against fixed lengths", __FILE__, &argc, &argv);
  return chexworld::Main();
}
