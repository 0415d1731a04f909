#include "chexworld/core/registry.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "chexworld/core/testdata/test_options.pb.h"

namespace chexworld {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::GadgetOptions;
using testing::WidgetOptions;

struct Widget {
  int width = 0;
  int extra = 0;
};

absl::StatusOr<std::shared_ptr<Widget>> MakeWidget(const WidgetOptions& o, int extra) {
  auto w = std::make_shared<Widget>();
  w->width = o.width() == 0 ? 7 : o.width();
  w->extra = extra;
  return w;
}

absl::Status ValidateWidget(const WidgetOptions& o) {
  if (o.width() < 0) return absl::InvalidArgumentError("width must be >= 0");
  return absl::OkStatus();
}

CHEXWORLD_REGISTER_COMPONENT("encoder", "test_widget", WidgetOptions, Widget,
                             "a widget for registry tests", &MakeWidget, &ValidateWidget);
CHEXWORLD_REGISTER_COMPONENT("encoder", "test_wodget", WidgetOptions, Widget,
                             "a second widget", &MakeWidget, nullptr);

TEST(RegistryTest, BuildsWithDefaultOptionsAndExtraArguments) {
  ComponentSpec spec;
  spec.set_name("test_widget");
  auto w = CreateComponent<Widget>("encoder", spec, 3);
  ASSERT_TRUE(w.ok()) << w.status();
  EXPECT_EQ((*w)->width, 7);
  EXPECT_EQ((*w)->extra, 3);
}

TEST(RegistryTest, BuildsWithGivenOptions) {
  ComponentSpec spec;
  spec.set_name("test_widget");
  WidgetOptions o;
  o.set_width(12);
  spec.mutable_options()->PackFrom(o);
  auto w = CreateComponent<Widget>("encoder", spec, 0);
  ASSERT_TRUE(w.ok()) << w.status();
  EXPECT_EQ((*w)->width, 12);
}

TEST(RegistryTest, ValidatorRunsBeforeTheFactory) {
  ComponentSpec spec;
  spec.set_name("test_widget");
  WidgetOptions o;
  o.set_width(-1);
  spec.mutable_options()->PackFrom(o);
  auto w = CreateComponent<Widget>("encoder", spec, 0);
  EXPECT_EQ(w.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(w.status().message(), HasSubstr("width must be >= 0"));
}

TEST(RegistryTest, UnknownNameTeaches) {
  ComponentSpec spec;
  spec.set_name("test_widgt");
  auto w = CreateComponent<Widget>("encoder", spec, 0);
  ASSERT_EQ(w.status().code(), absl::StatusCode::kNotFound);
  const std::string msg(w.status().message());
  EXPECT_THAT(msg, HasSubstr("unknown encoder 'test_widgt'"));
  EXPECT_THAT(msg, HasSubstr("Did you mean 'test_widget'?"));
  EXPECT_THAT(msg, HasSubstr("test_wodget  a second widget"));
  EXPECT_THAT(msg, HasSubstr("deps"));
  EXPECT_THAT(msg, HasSubstr("alwayslink"));
}

TEST(RegistryTest, WrongOptionsTypeNamesBothTypes) {
  ComponentSpec spec;
  spec.set_name("test_widget");
  spec.mutable_options()->PackFrom(GadgetOptions());
  auto w = CreateComponent<Widget>("encoder", spec, 0);
  ASSERT_EQ(w.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(w.status().message(), HasSubstr("chexworld.testing.WidgetOptions"));
  EXPECT_THAT(w.status().message(), HasSubstr("chexworld.testing.GadgetOptions"));
}

TEST(RegistryTest, WrongInterfaceIsAnInternalError) {
  ComponentSpec spec;
  spec.set_name("test_widget");
  auto w = CreateComponent<Widget>("encoder", spec);  // factory takes an int too
  EXPECT_EQ(w.status().code(), absl::StatusCode::kInternal);
}

TEST(RegistryTest, DuplicateNameIsRejected) {
  ComponentInfo info;
  info.kind = "encoder";
  info.name = "test_widget";
  info.options_type = "chexworld.testing.GadgetOptions";
  auto status = ComponentCatalog::Global().Register(info);
  EXPECT_EQ(status.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(status.message(), HasSubstr("duplicate encoder 'test_widget'"));
}

TEST(RegistryTest, DuplicateRegistrationAbortsAtStartup) {
  auto register_again = [] {
    internal::RegisterOrDie<WidgetOptions, Widget>("encoder", "test_widget", "again", &MakeWidget,
                                                    nullptr);
  };
  EXPECT_DEATH(register_again(), "duplicate encoder 'test_widget'");
}

TEST(RegistryTest, RejectsUnknownKindAndBadNames) {
  ComponentInfo info;
  info.kind = "encodr";
  info.name = "x";
  EXPECT_EQ(ComponentCatalog::Global().Register(info).code(), absl::StatusCode::kInvalidArgument);
  info.kind = "encoder";
  info.name = "BadName";
  EXPECT_EQ(ComponentCatalog::Global().Register(info).code(), absl::StatusCode::kInvalidArgument);
}

TEST(RegistryTest, ListsAndDescribesEveryKind) {
  EXPECT_THAT(ComponentCatalog::Global().Names("encoder"), ElementsAre("test_widget", "test_wodget"));
  const std::string all = ComponentCatalog::Global().Describe();
  for (const auto& kind : ComponentKinds()) EXPECT_THAT(all, HasSubstr(kind + " ("));
  EXPECT_THAT(all, HasSubstr("encoder (2)"));
  EXPECT_THAT(all, HasSubstr("evaluator (0)"));
}

TEST(RegistryTest, ClosestMatch) {
  EXPECT_EQ(ClosestMatch("vitt", {"vit", "resnet", "swin"}), "vit");
  EXPECT_EQ(ClosestMatch("IJEPA", {"chexworld", "ijepa"}), "ijepa");
  EXPECT_EQ(ClosestMatch("x", {}), "");
}

}  // namespace
}  // namespace chexworld
