// Task data: splits (patient-level where ids exist), label fractions, k-shot,
// binary tasks from label groups.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "chexworld/core/config.h"
#include "chexworld/data/shard.h"
#include "chexworld/eval/evaluator.h"

namespace chexworld {
namespace {

std::string Tmp(const std::string& n) { return std::string(std::getenv("TEST_TMPDIR")) + "/" + n; }

// 40 images of 10 patients (4 each); labels: class "a" for even patients, "b" for odd.
EvalData MakeData(bool with_patients) {
  const std::string dir = Tmp(with_patients ? "pat" : "nopat");
  ShardSchema schema;
  schema.height = schema.width = 16;
  schema.label_names = {"a", "b"};
  ShardSetWriter w(dir, schema, 64, "test");
  for (int i = 0; i < 40; ++i) {
    ShardRecord r;
    r.id = "img" + std::to_string(i);
    r.patient_id = with_patients ? "p" + std::to_string(i / 4) : "";
    r.image = GrayImage(16, 16, 0.5f);
    const bool a = (i / 4) % 2 == 0;
    r.labels = {a ? 1.f : 0.f, a ? 0.f : 1.f};
    EXPECT_TRUE(w.Add(r).ok());
  }
  EXPECT_TRUE(w.Finish().ok());
  EvalData d;
  EXPECT_TRUE(ParseTextProto("dataset { name: \"shards\" options { [type.googleapis.com/chexworld.ShardsOptions] { manifest: \"" +
                                 dir + "/manifest.textproto\" } } }", "d", &d).ok());
  return d;
}

TEST(TaskDataTest, PatientLevelSplitsKeepPatientsTogether) {
  EvalData d = MakeData(true);
  auto t = LoadTaskData(d, 16);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_TRUE(t->patient_level);
  EXPECT_TRUE(t->multiclass);
  std::map<int64_t, int> split_of_patient;
  int split = 0;
  for (const auto* s : {&t->train, &t->val, &t->test}) {
    for (int64_t i : *s) {
      auto [it, inserted] = split_of_patient.emplace(i / 4, split);
      EXPECT_EQ(it->second, split) << "patient " << i / 4 << " is in two splits";
    }
    ++split;
  }
  EXPECT_EQ(t->train.size() + t->val.size() + t->test.size(), 40u);
  EXPECT_THAT(t->description, ::testing::HasSubstr("patient-level"));
}

TEST(TaskDataTest, ImageSplitsFractionsShotsAndBinaryGroups) {
  EvalData d = MakeData(false);
  auto t = LoadTaskData(d, 16);
  ASSERT_TRUE(t.ok());
  EXPECT_FALSE(t->patient_level);
  EXPECT_EQ(t->train.size(), 24u);
  EXPECT_EQ(t->val.size(), 8u);
  EXPECT_EQ(t->test.size(), 8u);
  d.set_label_fraction(0.25f);
  EXPECT_EQ(LoadTaskData(d, 16)->train.size(), 6u);
  d.set_shots(2);
  auto shots = LoadTaskData(d, 16);
  EXPECT_EQ(shots->train.size(), 4u);  // 2 per class
  d.set_shots(0);
  d.add_positive_labels("b");
  auto binary = LoadTaskData(d, 16);
  ASSERT_TRUE(binary.ok());
  EXPECT_EQ(binary->c, 1);
  EXPECT_EQ(binary->targets[4], 1.0);  // image 4 is patient 1: class b
  d.add_positive_labels("nope");
  EXPECT_THAT(std::string(LoadTaskData(d, 16).status().message()), ::testing::HasSubstr("'nope' is not a label"));
}

}  // namespace
}  // namespace chexworld
