// Maskers: the multiblock statistics against the official collator's
// (../shared/fixtures/multiblock_mask_stats.json), exact block sizes per call,
// no hangs at any grid, disjointness, determinism.
#include <gmock/gmock.h>
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

#include <cmath>

#include "chexworld/core/paths.h"
#include "chexworld/masks/multiblock.h"

namespace chexworld {
namespace {

namespace pb = google::protobuf;

const pb::Value& Field(const pb::Value& v, const std::string& key) {
  return v.struct_value().fields().at(key);
}

struct Stats {
  double ke_mean = 0, kp_mean = 0;
  std::vector<double> incl_ctx, incl_tgt;
  int64_t overlaps = 0, samples = 0;
};

Stats RunMasker(const MultiblockMasker& m, int g, int batches, int batch_size, uint64_t seed) {
  Stats s;
  s.incl_ctx.assign(g * g, 0);
  s.incl_tgt.assign(g * g, 0);
  std::mt19937_64 rng(seed);
  for (int call = 0; call < batches; ++call) {
    MaskBatch b = m.Sample(batch_size, g, g, call, rng);
    s.ke_mean += b.context_len;
    s.kp_mean += b.target_len;
    for (int i = 0; i < batch_size; ++i) {
      std::set<int64_t> ctx(b.context.begin() + i * b.context_len, b.context.begin() + (i + 1) * b.context_len);
      bool overlap = false;
      for (int64_t k = 0; k < b.target_len; ++k) {
        int64_t t = b.target[i * b.target_len + k];
        s.incl_tgt[t] += 1;
        overlap |= ctx.count(t) > 0;
      }
      for (int64_t c : ctx) s.incl_ctx[c] += 1;
      s.overlaps += overlap;
      ++s.samples;
    }
  }
  s.ke_mean /= batches;
  s.kp_mean /= batches;
  for (auto& v : s.incl_ctx) v /= s.samples;
  for (auto& v : s.incl_tgt) v /= s.samples;
  return s;
}

MultiblockMasker Official(int min_keep) {
  MultiblockOptions o;
  o.set_min_keep(min_keep);
  return MultiblockMasker(*ResolveMultiblockOptions(o));
}

TEST(MultiblockTest, MatchesTheOfficialCollatorStatistics) {
  const std::string dir = SharedDataDir();
  if (dir.empty()) GTEST_SKIP() << "../shared/fixtures absent: skipping the comparison with the official collator";
  auto text = ReadFile(dir + "/fixtures/multiblock_mask_stats.json");
  ASSERT_TRUE(text.ok());
  pb::Value root;
  ASSERT_TRUE(pb::util::JsonStringToMessage(*text, &root).ok());
  for (const auto& [key, g, min_keep] : {std::tuple<std::string, int, int>{"8x8", 8, 4}, {"14x14", 14, 10}}) {
    SCOPED_TRACE(key);
    const pb::Value& ref = Field(Field(root, "grids"), key);
    const int batches = static_cast<int>(Field(ref, "n_batches").number_value());
    const int bs = static_cast<int>(Field(ref, "batch_size").number_value());
    MultiblockMasker m = Official(min_keep);
    // Block sizes: deterministic, exact.
    const auto& sizes = Field(ref, "block_sizes_by_counter").list_value();
    ASSERT_EQ(sizes.values_size(), batches);
    for (int call = 0; call < batches; ++call) {
      auto mine = m.BlockSizes(g, g, call);
      for (int k = 0; k < 4; ++k) {
        ASSERT_EQ(mine[k], static_cast<int>(sizes.values(call).list_value().values(k).number_value()))
            << "call " << call << " entry " << k;
      }
    }
    Stats s = RunMasker(m, g, batches, bs, 42);
    for (const char* which : {"Ke", "Kp"}) {
      const double mean = Field(Field(ref, which), "mean").number_value();
      const double sd = Field(Field(ref, which), "std").number_value();
      const double tol = 4 * std::sqrt(2 * sd * sd / batches);
      EXPECT_NEAR(std::string(which) == "Ke" ? s.ke_mean : s.kp_mean, mean, tol) << which;
    }
    for (const auto& [field, mine] : {std::pair<std::string, const std::vector<double>*>{"inclusion_freq_context", &s.incl_ctx},
                                      {"inclusion_freq_target", &s.incl_tgt}}) {
      const auto& rows = Field(ref, field).list_value();
      double worst = 0;
      for (int r = 0; r < g; ++r)
        for (int c = 0; c < g; ++c)
          worst = std::max(worst, std::abs(rows.values(r).list_value().values(c).number_value() - (*mine)[r * g + c]));
      EXPECT_LT(worst, 0.02) << field;
    }
    EXPECT_EQ(s.overlaps, 0);
    EXPECT_EQ(Field(ref, "frac_samples_context_overlaps_target").number_value(), 0.0);
  }
}

TEST(MultiblockTest, NeverHangsAtAnyGridAndStaysDisjoint) {
  MultiblockMasker m = Official(10);  // the official min_keep that hangs at 8x8
  std::mt19937_64 rng(3);
  for (int g : {2, 3, 4, 6, 7, 8, 14, 16}) {
    for (int call = 0; call < 20; ++call) {
      MaskBatch b = m.Sample(8, g, g, call, rng);
      ASSERT_GT(b.context_len, 0) << g;
      ASSERT_GT(b.target_len, 0) << g;
      for (int64_t v : b.context) ASSERT_LT(v, g * g);
      for (int64_t v : b.target) ASSERT_LT(v, g * g);
    }
  }
  // Non-square grids too.
  MaskBatch b = m.Sample(4, 6, 10, 0, rng);
  EXPECT_GT(b.context_len, 0);
}

TEST(MultiblockTest, SortedAndDeterministicForASeed) {
  MultiblockMasker m = Official(0);
  std::mt19937_64 a(9), b(9);
  MaskBatch x = m.Sample(16, 8, 8, 5, a), y = m.Sample(16, 8, 8, 5, b);
  EXPECT_EQ(x.context, y.context);
  EXPECT_EQ(x.target, y.target);
  for (int i = 0; i < 16; ++i) {
    EXPECT_TRUE(std::is_sorted(x.context.begin() + i * x.context_len, x.context.begin() + (i + 1) * x.context_len));
  }
  EXPECT_EQ(m.min_keep(8, 8), 4);
  EXPECT_EQ(m.min_keep(14, 14), 10);
}

// fixed_lengths: every batch has the same lengths (a CUDA graph replays fixed
// shapes), the samples stay disjoint and deterministic, and the cut to those
// lengths keeps the grid evenly covered (a prefix of the sorted indices would
// keep the top rows and drop the bottom ones).
TEST(MultiblockTest, FixedLengthsKeepShapesAndCoverage) {
  MultiblockOptions o;
  o.set_fixed_lengths(true);
  MultiblockMasker m(*ResolveMultiblockOptions(o));
  const int g = 14, batch = 32, batches = 150;
  const auto [ke, kp] = m.FixedLengths(batch, g, g);
  ASSERT_GT(ke, 0);
  ASSERT_GT(kp, 0);
  std::mt19937_64 rng(5);
  for (int call = 0; call < 5; ++call) {
    MaskBatch b = m.Sample(batch, g, g, call, rng);
    ASSERT_EQ(b.context_len, ke) << call;
    ASSERT_EQ(b.target_len, kp) << call;
  }
  std::mt19937_64 a(9), c(9);
  EXPECT_EQ(m.Sample(batch, g, g, 7, a).context, m.Sample(batch, g, g, 7, c).context);
  Stats s = RunMasker(m, g, batches, batch, 11);
  EXPECT_EQ(s.overlaps, 0);
  for (const auto* incl : {&s.incl_ctx, &s.incl_tgt}) {
    double top = 0, bottom = 0;
    for (int r = 0; r < g; ++r)
      for (int col = 0; col < g; ++col) (r < g / 2 ? top : bottom) += (*incl)[r * g + col];
    EXPECT_NEAR(top / bottom, 1.0, 0.25) << (incl == &s.incl_ctx ? "context" : "targets");
  }
}

TEST(MultiblockTest, BadOptionsNameTheField) {
  MultiblockOptions o;
  o.set_target_scale_min(0.5f);
  o.set_target_scale_max(0.2f);
  EXPECT_THAT(std::string(ResolveMultiblockOptions(o).status().message()), ::testing::HasSubstr("target_scale_min"));
}

}  // namespace
}  // namespace chexworld
