#include "chexworld/core/config_location.h"

#include <gtest/gtest.h>

namespace chexworld {
namespace {

constexpr char kConfig[] = R"(# a comment with warmup_epochs: 9
run { name: "x" seed: 0 }
schedule {
  lr {
    name: "cosine"
    options { [type.googleapis.com/chexworld.CosineScheduleOptions] { base_value: 1e-3 warmup_epochs: 40 } }
  }
  weight_decay { name: "cosine" options { [type.googleapis.com/chexworld.CosineScheduleOptions] { warmup_epochs: 2 } } }
}
evals { name: "linear_probe" }
evals {
  name: "knn"
  options: < [type.googleapis.com/chexworld.KnnOptions] < k: 5 > >
}
)";

TEST(LocateConfigField, FindsNestedFieldsThroughAnyOptions) {
  EXPECT_EQ(LocateConfigField(kConfig, "x.textproto", {}, "schedule.lr.options.warmup_epochs"), "x.textproto:6:88");
  EXPECT_EQ(LocateConfigField(kConfig, "x.textproto", {}, "schedule.weight_decay.options.warmup_epochs"),
            "x.textproto:8:99");
  EXPECT_EQ(LocateConfigField(kConfig, "x.textproto", {}, "run.seed"), "x.textproto:2:17");
  EXPECT_EQ(LocateConfigField(kConfig, "x.textproto", {}, "evals[1].options.k"), "x.textproto:13:59");
  EXPECT_EQ(LocateConfigField(kConfig, "x.textproto", {}, "evals[0].name"), "x.textproto:10:9");
  EXPECT_EQ(LocateConfigField(kConfig, "x.textproto", {}, "trainer.epochs"), "");  // the default applies
}

TEST(LocateConfigField, TheLastSetWins) {
  const std::vector<std::string> sets = {"schedule.lr.options.warmup_epochs=3", "schedule.lr.options.base_value=1",
                                         "schedule.lr=name: \"constant\""};
  EXPECT_EQ(LocateConfigField(kConfig, "x.textproto", sets, "schedule.lr.options.warmup_epochs"),
            "--set schedule.lr=name: \"constant\"");
  EXPECT_EQ(LocateConfigField(kConfig, "x.textproto", {sets[0]}, "schedule.lr.options.warmup_epochs"),
            "--set schedule.lr.options.warmup_epochs=3");
}

TEST(ConfigField, TravelsWithTheStatus) {
  const absl::Status s = WithConfigField(absl::InvalidArgumentError("too long"), "schedule.lr.options.warmup_epochs");
  EXPECT_EQ(ConfigFieldOf(s), "schedule.lr.options.warmup_epochs");
  EXPECT_EQ(ConfigFieldOf(absl::InvalidArgumentError("x")), "");
}

}  // namespace
}  // namespace chexworld
