// Task data: splits (patient-level where ids exist), label fractions, k-shot,
// binary tasks from label groups.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>

#include "chexworld/core/config.h"
#include "chexworld/core/paths.h"
#include "chexworld/data/decode.h"
#include "chexworld/data/resize.h"
#include "chexworld/data/shard.h"
#include "chexworld/eval/eval_data.h"
#include "chexworld/eval/evaluator.h"
#include "chexworld/eval/image_stream.h"
#include "chexworld/eval/shifts.h"
#include "chexworld/eval/task_data.h"

namespace chexworld {
namespace {

std::string Tmp(const std::string& n) { return std::string(std::getenv("TEST_TMPDIR")) + "/" + n; }

struct Image {
  std::string patient, split;
  std::vector<float> labels;
  float shade = -1;  // pixel value; -1 = distinct per image
};

// EvalData over the shard set in `dir`.
EvalData DataOf(const std::string& dir) {
  EvalData d;
  EXPECT_TRUE(ParseTextProto("dataset { name: \"shards\" options { [type.googleapis.com/chexworld.ShardsOptions] { manifest: \"" +
                                 dir + "/manifest.textproto\" } } }", "d", &d).ok());
  return d;
}

// A shard set of 16x16 images with the given labels, patients and splits.
EvalData Write(const std::string& name, const std::vector<std::string>& label_names, const std::vector<Image>& images,
               const std::vector<std::string>& mask_names = {}) {
  const std::string dir = Tmp(name);
  ShardSchema schema;
  schema.height = schema.width = 16;
  schema.label_names = label_names;
  schema.mask_names = mask_names;
  ShardSetWriter w(dir, schema, 64, "test");
  for (size_t i = 0; i < images.size(); ++i) {
    ShardRecord r;
    r.id = name + "_" + std::to_string(i);
    r.patient_id = images[i].patient;
    r.split = images[i].split;
    r.image = GrayImage(16, 16, 0.f);
    // A distinct random-looking pattern per image (duplicates are grouped).
    std::mt19937 rng(static_cast<unsigned>(i * 7919 + std::hash<std::string>()(name)));
    for (float& v : r.image.pixels) v = images[i].shade >= 0 ? images[i].shade : std::uniform_real_distribution<float>(0, 1)(rng);
    r.labels = images[i].labels;
    r.masks.assign(mask_names.size() * 256, static_cast<uint8_t>(i % 2));
    EXPECT_TRUE(w.Add(r).ok());
  }
  EXPECT_TRUE(w.Finish().ok());
  return DataOf(dir);
}

ComponentSpec DatasetOf(const EvalData& d) { return d.dataset(); }

// 40 images of 10 patients (4 each); labels: class "a" for even patients, "b" for odd.
EvalData MakeData(bool with_patients) {
  std::vector<Image> images;
  for (int i = 0; i < 40; ++i) {
    const bool a = (i / 4) % 2 == 0;
    images.push_back({with_patients ? "p" + std::to_string(i / 4) : "", "", {a ? 1.f : 0.f, a ? 0.f : 1.f}});
  }
  return Write(with_patients ? "pat" : "nopat", {"a", "b"}, images);
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

// kermany4's layout: 4 classes, one label each. A multi-class task over 3 of
// them keeps the images of those 3 and says how many it left out.
TEST(TaskDataTest, AMultiClassTaskOverSelectedClassesKeepsTheirImages) {
  std::vector<Image> images;
  for (int i = 0; i < 48; ++i) {
    std::vector<float> one_hot(4, 0.f);
    one_hot[i % 4] = 1.f;
    images.push_back({"", "", one_hot});
  }
  EvalData d = Write("four", {"Normal", "Bacterial", "Viral", "COVID"}, images);
  d.set_task("multiclass");
  for (const char* c : {"Normal", "Bacterial", "Viral"}) d.add_classes(c);
  auto t = LoadTaskData(d, 16);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_TRUE(t->multiclass);
  EXPECT_EQ(t->c, 3);
  EXPECT_EQ(t->train.size() + t->val.size() + t->test.size(), 36u);
  for (const auto* part : {&t->train, &t->val, &t->test}) {
    for (int64_t i : *part) EXPECT_NE(i % 4, 3) << "a COVID image in a split";
  }
  EXPECT_THAT(t->description, ::testing::HasSubstr("12 images of none of the selected classes (Normal, Bacterial, Viral) left out"));
  // Two labels on one image still fail, saying how many rows.
  images[0].labels = {1.f, 1.f, 0.f, 0.f};
  EvalData two = Write("two_labels", {"Normal", "Bacterial", "Viral", "COVID"}, images);
  two.set_task("multiclass");
  for (const char* c : {"Normal", "Bacterial", "Viral"}) two.add_classes(c);
  EXPECT_THAT(std::string(LoadTaskData(two, 16).status().message()),
              ::testing::HasSubstr("1 rows do not have exactly one label of Normal, Bacterial, Viral"));
}

// The same `classes` on a binary task leave the other classes' images out
// too, and say so (they used to become negatives without a word).
TEST(TaskDataTest, ABinaryTaskOverSelectedClassesKeepsTheirImages) {
  std::vector<Image> images;
  for (int i = 0; i < 48; ++i) {
    std::vector<float> one_hot(4, 0.f);
    one_hot[i % 4] = 1.f;
    images.push_back({"", "", one_hot});
  }
  EvalData d = Write("four_binary", {"Normal", "Bacterial", "Viral", "COVID"}, images);
  d.set_task("binary");
  for (const char* c : {"Normal", "Bacterial", "Viral"}) d.add_classes(c);
  d.add_positive_labels("Bacterial");
  d.add_positive_labels("Viral");
  auto t = LoadTaskData(d, 16);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->c, 1);
  EXPECT_EQ(t->train.size() + t->val.size() + t->test.size(), 36u);
  for (const auto* part : {&t->train, &t->val, &t->test}) {
    for (int64_t i : *part) EXPECT_NE(i % 4, 3) << "a COVID image in a split";
  }
  EXPECT_THAT(t->description, ::testing::HasSubstr("12 images of none of the selected classes (Normal, Bacterial, Viral) left out"));
  d.add_positive_labels("COVID");
  EXPECT_THAT(std::string(LoadTaskData(d, 16).status().message()), ::testing::HasSubstr("'COVID' is not one of EvalData.classes"));
}

// A resolved EvalData holds the values an evaluation uses, not zeros.
TEST(EvalDataTest, ResolvingWritesTheDefaultsIn) {
  EvalData d = MakeData(false);
  d.add_shifts()->set_kind("blur");
  ASSERT_TRUE(ResolveEvalData(&d).ok());
  EXPECT_EQ(d.duplicate_max_distance(), 8);
  EXPECT_EQ(d.bootstrap(), 1000);
  EXPECT_EQ(d.split(), "random");
  EXPECT_EQ(d.task(), "auto");
  EXPECT_EQ(d.normalization(), "imagenet");
  EXPECT_FLOAT_EQ(d.train_fraction(), 0.6f);
  EXPECT_EQ(d.num_workers(), 4);
  EXPECT_THAT(d.shifts(0).strengths(), ::testing::ElementsAre(1.f, 2.f, 3.f));
  EXPECT_EQ(DecimalValue(d.train_fraction()), 0.6);  // the decimal written, not 0.6000000238
  EvalData again = d;
  ASSERT_TRUE(ResolveEvalData(&again).ok());
  EXPECT_EQ(again.SerializeAsString(), d.SerializeAsString());
  d.set_num_workers(-2);
  EXPECT_THAT(std::string(ResolveEvalData(&d).message()), ::testing::HasSubstr("EvalData.num_workers"));
}

// Pixels read from the shards on demand, through reader and worker threads,
// give the batches the preloaded (in-memory) path gives, in order, with
// masks, shifts applied per position, and short last batches.
TEST(ImageStreamTest, StreamedBatchesEqualPreloadedOnes) {
  std::vector<Image> images;
  for (int i = 0; i < 37; ++i) images.push_back({"", "", {i % 2 ? 1.f : 0.f}});
  EvalData d = Write("stream", {"finding"}, images, {"lungs", "heart"});
  d.set_image_size(12);
  auto collect = [&](bool preload, int workers) {
    EvalData e = d;
    e.set_preload(preload);
    e.set_num_workers(workers);
    auto t = LoadTaskData(e, 12, /*with_masks=*/true);
    EXPECT_TRUE(t.ok()) << t.status();
    ImagePass pass;
    pass.rows = {5, 0, 36, 17, 17, 2, 30, 11, 9};
    pass.batch_size = 4;
    pass.channels = 3;
    pass.masks = {1};
    pass.alter = [](int64_t k, GrayImage* image) { *image = ApplyShift(*image, ShiftLevel{"noise", 0.1f}, 3, k); };
    ImageStream stream(*t, pass);
    std::vector<torch::Tensor> out, masks;
    std::vector<int64_t> firsts;
    while (true) {
      auto b = stream.Next();
      EXPECT_TRUE(b.ok()) << b.status();
      if (!b.ok() || !*b) break;
      out.push_back((*b)->images);
      masks.push_back((*b)->masks);
      firsts.push_back((*b)->first);
    }
    EXPECT_THAT(firsts, ::testing::ElementsAre(0, 4, 8));
    return std::make_pair(torch::cat(out), torch::cat(masks));
  };
  const auto [memory_images, memory_masks] = collect(true, -1);
  ASSERT_EQ(memory_images.sizes(), (std::vector<int64_t>{9, 3, 12, 12}));
  ASSERT_EQ(memory_masks.sizes(), (std::vector<int64_t>{9, 1, 12, 12}));
  EXPECT_EQ(memory_masks[0].sum().item<float>(), 144.f);  // image 5: odd, masks all ones
  EXPECT_EQ(memory_masks[1].sum().item<float>(), 0.f);
  for (int workers : {-1, 1, 3}) {
    const auto [images_, masks_] = collect(false, workers);
    EXPECT_TRUE(torch::equal(images_, memory_images)) << workers << " workers";
    EXPECT_TRUE(torch::equal(masks_, memory_masks)) << workers << " workers";
  }
  // A bad row names the dataset and image.
  auto t = LoadTaskData(d, 12);
  ASSERT_TRUE(t.ok());
  ImagePass bad;
  bad.rows = {0, 99};
  ImageStream stream(*t, bad);
  EXPECT_THAT(std::string(stream.Next().status().message()), ::testing::HasSubstr("row 99"));
}

TEST(TaskDataTest, DuplicateImagesStayInOneSplit) {
  // 30 distinct images and 10 copies of one image: the copies never straddle splits.
  std::vector<Image> images;
  for (int i = 0; i < 40; ++i) images.push_back({"", "", {i % 2 ? 1.f : 0.f, i % 2 ? 0.f : 1.f}, i < 10 ? 0.25f : -1.f});
  for (uint64_t seed = 0; seed < 5; ++seed) {
    EvalData d = Write("dups", {"a", "b"}, images);
    d.set_seed(seed);
    auto t = LoadTaskData(d, 16);
    ASSERT_TRUE(t.ok()) << t.status();
    int in_train = 0, in_other = 0;
    for (int64_t i : t->train) in_train += i < 10;
    for (const auto* part : {&t->val, &t->test})
      for (int64_t i : *part) in_other += i < 10;
    EXPECT_TRUE(in_train == 0 || in_other == 0) << "seed " << seed << ": copies in train and elsewhere";
  }
}

// Real radiographs as shards: `images`, labelled by index parity, all in `split`.
EvalData WriteImages(const std::string& name, const std::vector<GrayImage>& images, const std::string& split) {
  const std::string dir = Tmp(name);
  ShardSchema schema;
  schema.height = schema.width = 64;
  schema.label_names = {"finding"};
  ShardSetWriter w(dir, schema, 64, "test");
  for (size_t i = 0; i < images.size(); ++i) {
    ShardRecord r;
    r.id = name + "_" + std::to_string(i);
    r.split = split;
    r.image = Resize(images[i], 64, 64);
    r.labels = {i % 2 ? 1.f : 0.f};
    EXPECT_TRUE(w.Add(r).ok());
  }
  EXPECT_TRUE(w.Finish().ok());
  return DataOf(dir);
}

// Another release re-publishes 10 training radiographs, re-encoded, resized
// and re-windowed: the guard finds all 10, each with its distance, and no
// distinct image.
TEST(TaskDataTest, TheLeakageGuardCatchesReencodedCopiesFromAnotherRelease) {
  const std::string shared = SharedDataDir();
  if (shared.empty()) GTEST_SKIP() << "no shared data folder: the re-encoded-release leakage check was not run";
  std::vector<GrayImage> radiographs;
  for (int i = 0; i < 70; ++i) {
    auto d = DecodeImageFile(shared + "/data/kermany4/train/Normal/" + std::to_string(i) + ".jpg");
    ASSERT_TRUE(d.ok()) << d.status();
    radiographs.push_back(d->image);
  }
  std::vector<GrayImage> train(radiographs.begin(), radiographs.begin() + 40), release;
  for (int i = 0; i < 10; ++i) {
    GrayImage im = train[i * 4];
    for (float& p : im.pixels) p = std::clamp(p * (i % 2 ? 0.9f : 1.0f) + (i % 3) * 0.05f, 0.0f, 1.0f);
    auto jpeg = EncodeJpeg8(Resize(im, im.height * (90 + 2 * i) / 100, im.width * (90 + 2 * i) / 100), 75 + 2 * i);
    ASSERT_TRUE(jpeg.ok());
    release.push_back(DecodeImageBytes(*jpeg, "copy.jpg")->image);
  }
  release.insert(release.end(), radiographs.begin() + 40, radiographs.end());  // 30 new radiographs
  EvalData d = WriteImages("train_release", train, "train");
  *d.mutable_test_dataset() = WriteImages("other_release", release, "test").dataset();
  d.set_split("stored");
  auto refused = LoadTaskData(d, 64);
  ASSERT_FALSE(refused.ok());
  const std::string message(refused.status().message());
  EXPECT_THAT(message, ::testing::HasSubstr("10 test images overlap train/val"));
  EXPECT_THAT(message, ::testing::HasSubstr("other_release_0 ~ shards:train_release_0 (distance "));
  d.set_duplicate_max_distance(-1);  // matching off: only equal pixels count
  auto off = LoadTaskData(d, 64);
  ASSERT_TRUE(off.ok()) << off.status();
  EXPECT_EQ(off->test.size(), 40u);
  d.set_duplicate_max_distance(0);  // the default
  d.set_drop_overlap(true);
  auto kept = LoadTaskData(d, 64);
  ASSERT_TRUE(kept.ok()) << kept.status();
  EXPECT_EQ(kept->test.size(), 30u);
  ASSERT_EQ(kept->overlap_pairs.size(), 10u);
  for (int i = 0; i < 10; ++i) {
    EXPECT_THAT(kept->overlap_pairs[i], ::testing::HasSubstr(absl::StrCat("other_release_", i, " ~ shards:train_release_", i * 4,
                                                                          " (distance ")));
  }
}

TEST(TaskDataTest, StoredSplitsAndTheLeakageGuard) {
  std::vector<Image> images;
  for (int i = 0; i < 30; ++i) {
    const char* split = i < 18 ? "train" : i < 24 ? "val" : "test";
    images.push_back({"p" + std::to_string(i), split, {i % 2 ? 1.f : 0.f}});
  }
  images.push_back({"p31", "", {1.f}});  // no stored split: left out
  EvalData d = Write("stored", {"finding"}, images);
  d.set_split("stored");
  auto t = LoadTaskData(d, 16);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->train.size(), 18u);
  EXPECT_EQ(t->val.size(), 6u);
  EXPECT_EQ(t->test.size(), 6u);
  EXPECT_THAT(t->description, ::testing::HasSubstr("1 images without a stored split left out"));

  // A patient in train and test: refused, named; or kept / dropped on request.
  images[25].patient = "p3";
  d = Write("leaky", {"finding"}, images);
  d.set_split("stored");
  auto leak = LoadTaskData(d, 16);
  ASSERT_FALSE(leak.ok());
  EXPECT_THAT(std::string(leak.status().message()), ::testing::HasSubstr("1 shared patients (p3)"));
  EXPECT_THAT(std::string(leak.status().message()), ::testing::HasSubstr("allow_overlap"));
  d.set_drop_overlap(true);
  auto dropped = LoadTaskData(d, 16);
  ASSERT_TRUE(dropped.ok()) << dropped.status();
  EXPECT_EQ(dropped->test.size(), 5u);
  d.set_drop_overlap(false);
  d.set_allow_overlap(true);
  EXPECT_EQ(LoadTaskData(d, 16)->test.size(), 6u);

  // No stored val: carved from train.
  for (auto& im : images) if (im.split == "val") im.split = "train";
  d = Write("noval", {"finding"}, images);
  d.set_split("stored");
  d.set_allow_overlap(true);
  auto carved = LoadTaskData(d, 16);
  ASSERT_TRUE(carved.ok()) << carved.status();
  EXPECT_FALSE(carved->val.empty());
  EXPECT_THAT(carved->description, ::testing::HasSubstr("val images carved from train"));

  // A dataset without stored splits.
  EvalData none = MakeData(false);
  none.set_split("stored");
  EXPECT_THAT(std::string(LoadTaskData(none, 16).status().message()), ::testing::HasSubstr("stores no splits"));
}

TEST(TaskDataTest, ExternalTestSetsMatchClassesByName) {
  std::vector<Image> a, b, c;
  for (int i = 0; i < 20; ++i) a.push_back({"", "", {i % 2 ? 1.f : 0.f, i % 2 ? 0.f : 1.f}});
  for (int i = 0; i < 8; ++i) b.push_back({"", "", {i % 2 ? 0.f : 1.f, i % 2 ? 1.f : 0.f}});  // columns swapped
  for (int i = 0; i < 8; ++i) c.push_back({"", "", {1.f, 0.f, 0.f}});
  EvalData d = Write("site_a", {"x", "y"}, a);
  *d.mutable_test_dataset() = DatasetOf(Write("site_b", {"y", "x"}, b));
  auto t = LoadTaskData(d, 16);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_TRUE(t->external_test);
  EXPECT_EQ(t->test.size(), 8u);
  EXPECT_EQ(t->train.size() + t->val.size(), 20u);
  // Test image 0 of site_b has y = 1: its "x" target (column 0) is 0.
  const int64_t first_test = t->test[0];
  EXPECT_EQ(t->targets[first_test * 2 + 0], 0.0);
  EXPECT_EQ(t->targets[first_test * 2 + 1], 1.0);

  *d.mutable_test_dataset() = DatasetOf(Write("site_c", {"x", "y", "z"}, c));
  EXPECT_THAT(std::string(LoadTaskData(d, 16).status().message()),
              ::testing::HasSubstr("class 'z' is unknown to training"));
}

TEST(TaskDataTest, CanonicalLabelsLetDatasetsShareFindings) {
  std::vector<Image> a, b;
  for (int i = 0; i < 20; ++i) a.push_back({"", "", {i % 2 ? 1.f : 0.f, i % 3 ? 1.f : 0.f, 0.f}});
  for (int i = 0; i < 8; ++i) b.push_back({"", "", {i % 2 ? 1.f : 0.f, 0.f, i % 4 ? 0.f : 1.f}});
  EvalData d = Write("chexpertish", {"Pleural Effusion", "Cardiomegaly", "No Finding"}, a);
  *d.mutable_test_dataset() = DatasetOf(Write("nihish", {"Effusion", "Mass", "Cardiomegaly"}, b));
  d.set_label_space("canonical");
  auto t = LoadTaskData(d, 16);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_THAT(t->class_names, ::testing::ElementsAre("Effusion", "Cardiomegaly"));
  EXPECT_FALSE(t->multiclass);
}

TEST(TaskDataTest, MaskOnlyDatasetsLoadForSegmentation) {
  std::vector<Image> images(12, Image{"", "", {}});
  EvalData d = Write("masks_only", {}, images, {"lungs"});
  auto t = LoadTaskData(d, 16, /*with_masks=*/true);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->c, 0);
  EXPECT_EQ(t->images->size(), 12);
  GrayImage image;
  std::vector<uint8_t> masks;
  ASSERT_TRUE(t->images->Read(3, &image, &masks).ok());
  EXPECT_EQ(masks, std::vector<uint8_t>(256, 1));
  EXPECT_THAT(std::string(LoadTaskData(d, 16).status().message()), ::testing::HasSubstr("has no labels"));
}

TEST(ShiftsTest, DefaultsRangesAndSeededNoise) {
  EvalData d;
  ASSERT_TRUE(ParseTextProto("shifts { kind: \"blur\" } shifts { kind: \"gamma\" strengths: [0.5, 2] }", "s", &d).ok());
  auto levels = ExpandShifts(d);
  ASSERT_TRUE(levels.ok());
  ASSERT_EQ(levels->size(), 5u);
  EXPECT_EQ((*levels)[0].label(), "blur 1");
  EXPECT_EQ((*levels)[4].label(), "gamma 2");
  ASSERT_TRUE(ParseTextProto("shifts { kind: \"fog\" }", "s", &d).ok());
  EXPECT_THAT(std::string(ExpandShifts(d).status().message()), ::testing::HasSubstr("shifts[0].kind 'fog'"));
  GrayImage img(8, 8, 0.5f);
  ShiftLevel noise{"noise", 0.1f};
  EXPECT_EQ(ApplyShift(img, noise, 1, 3).pixels, ApplyShift(img, noise, 1, 3).pixels);
  EXPECT_NE(ApplyShift(img, noise, 1, 3).pixels, ApplyShift(img, noise, 1, 4).pixels);  // per image
  EXPECT_GT(ApplyShift(img, ShiftLevel{"exposure", 1.5f}, 0, 0).pixels[0], 0.5f);
}

}  // namespace
}  // namespace chexworld
