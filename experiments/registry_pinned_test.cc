// The registered component names are what configs and sweeps refer to: adding
// or renaming one is an interface change, made here on purpose.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "chexworld/core/registry.h"

namespace chexworld {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

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

// The names of the README's tables (vit_tiny, ...) are variants: asking for
// one says how to write it, and --list_components shows them.
TEST(RegistryPinnedTest, VariantNamesTeachTheirSpelling) {
  auto& catalog = ComponentCatalog::Global();
  auto found = catalog.Find("encoder", "vit_tiny");
  ASSERT_FALSE(found.ok());
  const std::string msg(found.status().message());
  EXPECT_THAT(msg, HasSubstr("'vit_tiny' is a variant of encoder 'vit'"));
  EXPECT_THAT(msg, HasSubstr("name: \"vit\""));
  EXPECT_THAT(msg, HasSubstr("[type.googleapis.com/chexworld.ViTOptions] { preset: \"tiny\" }"));
  EXPECT_THAT(msg, HasSubstr("--set <slot>.name=vit --set <slot>.options.preset=tiny"));
  EXPECT_THAT(std::string(catalog.Find("encoder", "vit_tinny").status().message()),
              HasSubstr("Did you mean 'vit_tiny' (vit with preset: \"tiny\")?"));
  const std::string listing = catalog.Describe();
  for (const char* v : {"vit_tiny", "vit_small", "vit_base", "vit_large"}) {
    EXPECT_THAT(listing, HasSubstr(std::string("variant ") + v));
  }
}

}  // namespace
}  // namespace chexworld
