// Config loading, overrides and component resolution. The test components
// ("test_widget", "test_wodget", both encoders) are registered in
// registry_test.cc, linked into the same binary.
#include "chexworld/core/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "chexworld/core/paths.h"
#include "chexworld/core/registry.h"
#include "chexworld/core/testdata/test_options.pb.h"

namespace chexworld {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using testing::WidgetOptions;

constexpr char kConfig[] = R"pb(
  run { name: "unit" seed: 3 }
  model {
    encoder {
      name: "test_widget"
      options { [type.googleapis.com/chexworld.testing.WidgetOptions] { width: 5 } }
    }
  }
  data { batch_size: 8 }
)pb";

std::string WriteTemp(const std::string& name, const std::string& text) {
  std::string path = std::string(std::getenv("TEST_TMPDIR")) + "/" + name;
  EXPECT_TRUE(WriteFileAtomically(path, text).ok());
  return path;
}

WidgetOptions EncoderOptions(const ExperimentConfig& c) {
  WidgetOptions o;
  EXPECT_TRUE(c.model().encoder().options().UnpackTo(&o));
  return o;
}

TEST(ConfigTest, LoadsAndResolves) {
  auto c = LoadExperimentConfig(WriteTemp("ok.textproto", kConfig), {});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->run().seed(), 3u);
  EXPECT_EQ(EncoderOptions(*c).width(), 5);
}

// --print_resolved and run folders spell every default out (seed: 0, ...),
// keep unset messages unset, expand Any options, and parse back unchanged.
TEST(ConfigTest, PrintingWithDefaultsShowsZeroValuesAndRoundTrips) {
  auto c = LoadExperimentConfig(WriteTemp("zero.textproto", R"pb(
    run { name: "unit" }
    model { encoder { name: "test_widget" } }
    data { batch_size: 8 }
    trainer { epochs: 1 }
  )pb"), {});
  ASSERT_TRUE(c.ok()) << c.status();
  const std::string text = ToTextProtoWithDefaults(*c);
  EXPECT_THAT(text, HasSubstr("  seed: 0\n"));
  EXPECT_THAT(text, HasSubstr("  threads: 0\n"));
  EXPECT_THAT(text, HasSubstr("precision: FP32"));
  EXPECT_THAT(text, HasSubstr("[type.googleapis.com/chexworld.testing.WidgetOptions] {"));
  EXPECT_THAT(text, Not(HasSubstr("predictor {")));  // unset: stays unset
  EXPECT_THAT(ToTextProto(*c), Not(HasSubstr("seed:")));
  ExperimentConfig back;
  ASSERT_TRUE(ParseTextProto(text, "back", &back).ok());
  EXPECT_EQ(ToTextProto(back), ToTextProto(*c));
  EXPECT_FALSE(back.model().has_predictor());
}

TEST(ConfigTest, MisspelledFieldReportsFileLineColumn) {
  const std::string path = WriteTemp("typo.textproto", "run { name: \"x\" }\ndata {\n  batch_sise: 4\n}\n");
  auto c = LoadExperimentConfig(path, {});
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(std::string(c.status().message()), HasSubstr(path + ":3:13:"));
  EXPECT_THAT(c.status().message(), HasSubstr("batch_sise"));
}

TEST(ConfigTest, UnknownComponentFailsWithPathAndSuggestion) {
  const std::string path =
      WriteTemp("unknown.textproto", "model { encoder { name: \"test_widgte\" } }\n");
  auto c = LoadExperimentConfig(path, {});
  ASSERT_EQ(c.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(c.status().message(), HasSubstr("model.encoder.name"));
  EXPECT_THAT(c.status().message(), HasSubstr("Did you mean 'test_widget'"));
}

TEST(ConfigTest, ValidatorRunsAtLoadTime) {
  auto c = LoadExperimentConfig(WriteTemp("v.textproto", kConfig), {"model.encoder.options.width=-4"});
  ASSERT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(c.status().message(), HasSubstr("model.encoder.options"));
  EXPECT_THAT(c.status().message(), HasSubstr("width must be >= 0"));
}

TEST(ConfigTest, DefaultsAreExpanded) {
  auto c = LoadExperimentConfig(WriteTemp("d.textproto", "model { encoder { name: \"test_wodget\" } }"), {});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(AnyTypeName(c->model().encoder().options()), "chexworld.testing.WidgetOptions");
  EXPECT_THAT(ToTextProto(*c), HasSubstr("[type.googleapis.com/chexworld.testing.WidgetOptions]"));
}

TEST(ConfigTest, OverridesScalarsNestedAndInsideOptions) {
  ExperimentConfig c;
  ASSERT_TRUE(ParseTextProto(kConfig, "inline", &c).ok());
  ASSERT_TRUE(ApplyOverride("run.seed=11", &c).ok());
  ASSERT_TRUE(ApplyOverride("run.name=sweep a", &c).ok());
  ASSERT_TRUE(ApplyOverride("trainer.precision=BF16", &c).ok());
  ASSERT_TRUE(ApplyOverride("model.encoder.options.scale=0.5", &c).ok());
  ASSERT_TRUE(ApplyOverride("model.encoder.options.sizes=1,2,3", &c).ok());
  ASSERT_TRUE(ApplyOverride("model.encoder.options.sizes[1]=9", &c).ok());
  ASSERT_TRUE(ApplyOverride("evals[0].name=test_wodget", &c).ok());
  EXPECT_EQ(c.run().seed(), 11u);
  EXPECT_EQ(c.run().name(), "sweep a");
  EXPECT_EQ(c.trainer().precision(), TrainerConfig::BF16);
  WidgetOptions o = EncoderOptions(c);
  EXPECT_EQ(o.width(), 5);  // untouched fields survive the repack
  EXPECT_FLOAT_EQ(o.scale(), 0.5f);
  EXPECT_THAT(o.sizes(), ::testing::ElementsAre(1, 9, 3));
  EXPECT_EQ(c.evals(0).name(), "test_wodget");
  ASSERT_TRUE(ApplyOverride("evals=", &c).ok());
  EXPECT_EQ(c.evals_size(), 0);
}

TEST(ConfigTest, OverrideIntoEmptyOptionsStartsFromDefaults) {
  ExperimentConfig c;
  ASSERT_TRUE(ApplyOverride("model.encoder.name=test_widget", &c).ok());
  ASSERT_TRUE(ApplyOverride("model.encoder.options.label=x", &c).ok());
  EXPECT_EQ(EncoderOptions(c).label(), "x");
}

TEST(ConfigTest, OverrideErrorsNameThePath) {
  ExperimentConfig c;
  ASSERT_TRUE(ParseTextProto(kConfig, "inline", &c).ok());
  auto s = ApplyOverride("trainer.max_stpes=3", &c);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("unknown field 'max_stpes' at 'trainer.max_stpes'"));
  EXPECT_THAT(s.message(), HasSubstr("max_steps"));  // lists the valid fields
  s = ApplyOverride("model.encoder.options.widht=3", &c);
  EXPECT_THAT(s.message(), HasSubstr("chexworld.testing.WidgetOptions"));
  s = ApplyOverride("run.seed=abc", &c);
  EXPECT_THAT(s.message(), HasSubstr("cannot parse 'abc' as uint64"));
  s = ApplyOverride("run.seed", &c);
  EXPECT_THAT(s.message(), HasSubstr("path=value"));
  s = ApplyOverride("run.seed.x=1", &c);
  EXPECT_THAT(s.message(), HasSubstr("not a message"));
  s = ApplyOverride("evals[5].name=a", &c);
  EXPECT_EQ(s.code(), absl::StatusCode::kOutOfRange);
}

TEST(ConfigTest, RenamingAComponentDropsForeignOptions) {
  ExperimentConfig c;
  ASSERT_TRUE(ParseTextProto(kConfig, "inline", &c).ok());
  ASSERT_TRUE(ApplyOverride("model.encoder.name=test_wodget", &c).ok());
  EXPECT_TRUE(c.model().encoder().has_options());  // same options type: kept
}

TEST(ConfigTest, UserPathUsesBazelRunWorkingDirectory) {
  setenv("BUILD_WORKING_DIRECTORY", "/home/me/project", 1);
  EXPECT_EQ(UserPath("experiments/a.textproto"), "/home/me/project/experiments/a.textproto");
  EXPECT_EQ(UserPath("/abs/a.textproto"), "/abs/a.textproto");
  unsetenv("BUILD_WORKING_DIRECTORY");
  EXPECT_EQ(UserPath("rel"), "rel");
}

TEST(ConfigTest, RunDirectoriesAreDistinct) {
  const std::string root = std::string(std::getenv("TEST_TMPDIR")) + "/runs";
  auto a = MakeRunDirectory(root, "exp");
  auto b = MakeRunDirectory(root, "exp");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(*a, *b);
  EXPECT_THAT(*a, HasSubstr("/runs/exp/"));
}

}  // namespace
}  // namespace chexworld
