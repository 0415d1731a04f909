// The registered component names are what configs and sweeps refer to: adding
// or renaming one is an interface change, made here on purpose.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "chexworld/core/registry.h"

namespace chexworld {
namespace {

using ::testing::ElementsAre;

TEST(RegistryPinnedTest, EveryKindHasItsNames) {
  const auto& catalog = ComponentCatalog::Global();
  EXPECT_THAT(catalog.Names("encoder"), ElementsAre("vit"));
  EXPECT_THAT(catalog.Names("predictor"), ElementsAre("conditioned_transformer"));
  EXPECT_THAT(catalog.Names("masker"), ElementsAre("multiblock", "random"));
  EXPECT_THAT(catalog.Names("objective"), ElementsAre("chexworld", "ijepa"));
  EXPECT_THAT(catalog.Names("dataset"), ElementsAre("phantom", "shards"));
  EXPECT_THAT(catalog.Names("transform"), ElementsAre("dual_view"));
  EXPECT_THAT(catalog.Names("optimizer"), ElementsAre("adamw"));
  EXPECT_THAT(catalog.Names("schedule"), ElementsAre("constant", "cosine"));
  EXPECT_THAT(catalog.Names("evaluator"), ElementsAre("attentive_probe", "finetune", "knn", "linear_probe", "segmentation"));
}

}  // namespace
}  // namespace chexworld
