// Label presets on small CSV fixtures written in each dataset's format
// (datasets/testdata), the CSV reader, border removal, and packing end to end
// (generated images; the shared DICOMs and kermany4 when present).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <numeric>

#include "chexworld/core/paths.h"
#include "chexworld/data/decode.h"
#include "chexworld/data/phantom.h"
#include "chexworld/data/shard.h"
#include "datasets/csv.h"
#include "absl/strings/str_cat.h"
#include "datasets/labels.h"
#include "datasets/packer.h"

namespace chexworld {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

const std::string kData = "datasets/testdata/";

std::string Tmp(const std::string& name) { return std::string(std::getenv("TEST_TMPDIR")) + "/" + name; }

void WriteImage(const std::string& path, int size, int index) {
  MakeDirectories(path.substr(0, path.find_last_of('/'))).IgnoreError();
  PhantomOptions o;
  o.image_size = size;
  std::ofstream(path, std::ios::binary) << *EncodePng8(MakePhantom(o, 3, index).image);
}

std::vector<float> Labels(const LabelTable& t, const std::string& key) {
  const LabelEntry* e = t.Find(key);
  EXPECT_NE(e, nullptr) << key;
  return e ? e->labels : std::vector<float>{};
}

TEST(CsvTest, QuotesLinesAndErrors) {
  auto t = ReadCsv(kData + "generic_labels.csv");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_THAT(t->header, ElementsAre("file", "split", "findings", "effusion", "nodule, small"));
  EXPECT_EQ(t->rows.size(), 4u);
  EXPECT_EQ(t->lines[2], 4);
  auto bad = ParseCsv("a,b\n1,2\n3\n", "x.csv");
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("x.csv:3: 1 fields, the header has 2"));
  EXPECT_THAT(std::string(ParseCsv("a\n\"open\n", "y.csv").status().message()), HasSubstr("unterminated"));
  EXPECT_THAT(std::string(t->Column("nope").status().message()), HasSubstr("columns: file, split"));
}

TEST(LabelsTest, Nih) {
  LabelOptions o;
  o.preset = "nih";
  o.csv = kData + "nih_Data_Entry_2017.csv";
  auto t = LoadLabels(o);
  ASSERT_TRUE(t.ok()) << t.status();
  ASSERT_EQ(t->label_names.size(), 14u);
  auto v = Labels(*t, "00000001_001.png");
  EXPECT_EQ(v[1], 1.f);   // Cardiomegaly
  EXPECT_EQ(v[10], 1.f);  // Emphysema
  EXPECT_EQ(std::accumulate(v.begin(), v.end(), 0.f), 2.f);
  auto none = Labels(*t, "00000002_000.png");
  EXPECT_EQ(std::accumulate(none.begin(), none.end(), 0.f), 0.f);
  EXPECT_EQ(t->Find("00000004_000.png"), nullptr);  // unknown label: reported, not used
  ASSERT_EQ(t->problems.size(), 1u);
  EXPECT_THAT(t->problems[0], HasSubstr("nih_Data_Entry_2017.csv:6: '00000004_000.png' has unknown label 'Not A Finding'"));
  EXPECT_EQ(t->Find("00000003_000.png")->patient_id, "3");
}

TEST(LabelsTest, ChexpertUncertaintyPolicies) {
  LabelOptions o;
  o.preset = "chexpert";
  o.csv = kData + "chexpert_train.csv";
  const std::string p2 = "CheXpert-v1.0-small/train/patient00002/study2/view1_frontal.jpg";
  for (const auto& [policy, cardio, atelectasis] :
       {std::tuple<std::string, float, float>{"ones", 1.f, 1.f}, {"zeros", 0.f, 0.f}, {"official", 0.f, 1.f}}) {
    o.uncertain = policy;
    auto t = LoadLabels(o);
    ASSERT_TRUE(t.ok()) << t.status();
    auto v = Labels(*t, p2);
    EXPECT_EQ(v[2], cardio) << policy;       // Cardiomegaly -1
    EXPECT_EQ(v[8], atelectasis) << policy;  // Atelectasis -1
    EXPECT_EQ(v[3], 1.f);                    // Lung Opacity
    EXPECT_EQ(t->entries.size(), 3u);        // lateral view dropped
  }
  o.uncertain = "ignore";
  auto t = LoadLabels(o);
  auto v = Labels(*t, p2);
  EXPECT_TRUE(std::isnan(v[2]));
  EXPECT_TRUE(std::isnan(v[1]));  // blank = unknown
  EXPECT_EQ(t->Find(p2)->patient_id, "patient00002");
  o.uncertain = "maybe";
  EXPECT_FALSE(LoadLabels(o).ok());
}

TEST(LabelsTest, MimicJoinsMetadataAndKeepsFrontalViews) {
  LabelOptions o;
  o.preset = "mimic";
  o.csv = kData + "mimic-cxr-2.0.0-chexpert.csv";
  o.metadata = kData + "mimic-cxr-2.0.0-metadata.csv";
  o.uncertain = "zeros";
  auto t = LoadLabels(o);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->entries.size(), 3u);
  auto v = Labels(*t, "files/p10/p10000764/s57375967/096052b7-d256dc40-453a102b-fa7d01c6-1b22c6b4.jpg");
  EXPECT_EQ(v[6], 1.f);  // Consolidation
  EXPECT_EQ(v[7], 0.f);  // Pneumonia -1 -> 0
  ASSERT_EQ(t->problems.size(), 1u);
  EXPECT_THAT(t->problems[0], HasSubstr("s59999999 has no label row"));
}

TEST(LabelsTest, VindrAnyRadiologist) {
  LabelOptions o;
  o.preset = "vindr";
  o.csv = kData + "vindr_image_labels_train.csv";
  auto t = LoadLabels(o);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_THAT(t->label_names, ElementsAre("Aortic enlargement", "Cardiomegaly", "Lung Opacity", "Pleural effusion",
                                          "Tuberculosis", "No finding"));
  EXPECT_THAT(Labels(*t, "00053190460d56c53cc3e57321387478.dicom"), ElementsAre(1, 1, 0, 1, 0, 0));
}

TEST(LabelsTest, RsnaBinaryAndThreeClass) {
  LabelOptions o;
  o.preset = "rsna";
  o.csv = kData + "rsna_stage_2_train_labels.csv";
  auto t = LoadLabels(o);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_THAT(Labels(*t, "00436515-870c-4b36-a041-de91049b9ab4.dcm"), ElementsAre(1));
  EXPECT_EQ(t->Find("00436515-870c-4b36-a041-de91049b9ab4")->boxes.size(), 2u);
  o.metadata = kData + "rsna_stage_2_detailed_class_info.csv";
  t = LoadLabels(o);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_THAT(Labels(*t, "00313ee0-9eaa-42f4-b0ab-c148ed3241cd"), ElementsAre(0, 0, 1));
  EXPECT_THAT(Labels(*t, "0004cfab-14fd-4e49-80ba-63a80b6bddd6"), ElementsAre(0, 1, 0));
}

TEST(LabelsTest, SiimRunLengthMasks) {
  LabelOptions o;
  o.preset = "siim";
  o.csv = kData + "siim_train-rle.csv";
  auto t = LoadLabels(o);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_THAT(Labels(*t, "1.2.276.0.7230010.3.1.4.8323329.5597.1517875188.959090"), ElementsAre(0));
  const LabelEntry* e = t->Find("1.2.276.0.7230010.3.1.4.8323329.12515.1517875239.501137.dcm");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->rle.size(), 2u);
  // Column-major relative runs on a 3x3 image: pixels 1-2 (column 0, rows 1-2),
  // then after a gap of 1, pixel 4 (column 1, row 1).
  auto m = DecodeSiimRle("1 2 1 1", 3, 3);
  ASSERT_TRUE(m.ok());
  EXPECT_THAT(*m, ElementsAre(0, 0, 0, 1, 1, 0, 1, 0, 0));
  EXPECT_FALSE(DecodeSiimRle("5 20", 3, 3).ok());
}

TEST(LabelsTest, GenericColumnsListsAndClasses) {
  LabelOptions o;
  o.preset = "generic";
  o.csv = kData + "generic_labels.csv";
  o.label_columns = {"effusion", "nodule, small"};
  auto t = LoadLabels(o);
  ASSERT_TRUE(t.ok()) << t.status();
  auto v = Labels(*t, "b/img3.png");
  EXPECT_EQ(v[0], 1.f);
  EXPECT_TRUE(std::isnan(v[1]));  // -1 under "ignore"
  o.label_columns.clear();
  o.label_list_column = "findings";
  t = LoadLabels(o);
  ASSERT_TRUE(t.ok());
  EXPECT_THAT(t->label_names, ElementsAre("effusion", "nodule"));
  EXPECT_THAT(Labels(*t, "a/img1.png"), ElementsAre(1, 1));
  o.label_list_column.clear();
  o.label_column = "split";
  t = LoadLabels(o);
  EXPECT_THAT(Labels(*t, "b/img3.png"), ElementsAre(1, 0));
  o.preset = "nope";
  EXPECT_THAT(std::string(LoadLabels(o).status().message()), HasSubstr("unknown label preset 'nope'"));
}

TEST(PackerTest, BorderRemovalAndLetterbox) {
  GrayImage img(100, 80, 0.0f);
  for (int y = 10; y < 90; ++y)
    for (int x = 5; x < 70; ++x) img.at(y, x) = 0.6f;
  Box b = FindContentBox(img, 0.04f);
  EXPECT_EQ(b.y, 10);
  EXPECT_EQ(b.x, 5);
  EXPECT_EQ(b.h, 80);
  EXPECT_EQ(b.w, 65);
  Box content;
  GrayImage out = FitToSquare(GrayImage(50, 100, 1.0f), 32, "letterbox", &content);
  EXPECT_EQ(content.h, 16);
  EXPECT_EQ(content.w, 32);
  EXPECT_EQ(out.at(0, 0), 0.0f);
  EXPECT_NEAR(out.at(16, 16), 1.0f, 1e-5);
}

TEST(PackerTest, NihFolderWithCorruptFileAndLabelProblems) {
  const std::string in = Tmp("nih_in");
  for (auto [name, i] : {std::pair<const char*, int>{"images/00000001_000.png", 0}, {"images/00000001_001.png", 1},
                         {"images/00000003_000.png", 2}, {"images/00000004_000.png", 3}, {"images/00000005_000.png", 4}}) {
    WriteImage(in + "/" + name, 80, i);
  }
  std::ofstream(in + "/images/00000002_000.png") << "\x89PNG\r\n\x1a\n truncated";
  PackOptions o;
  o.input_dir = in;
  o.output_dir = Tmp("nih_out");
  o.use_labels = true;
  o.labels.preset = "nih";
  o.labels.csv = kData + "nih_Data_Entry_2017.csv";
  o.size = 48;
  o.shard_size = 2;
  o.threads = 3;
  o.progress = false;
  auto r = Pack(o);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->found, 6);
  EXPECT_EQ(r->packed, 3);
  const std::string text = r->ToString();
  EXPECT_THAT(text, HasSubstr("corrupt PNG"));
  EXPECT_THAT(text, HasSubstr("images/00000002_000.png"));
  EXPECT_THAT(text, HasSubstr("no label for this file"));  // 00000004 (unknown label) and 00000005 (no row)
  EXPECT_THAT(text, HasSubstr("label row for '00000099_000.png' names a missing file"));
  EXPECT_THAT(text, HasSubstr("has unknown label 'Not A Finding'"));
  auto ds = ShardedDataset::Open(r->manifest);
  ASSERT_TRUE(ds.ok()) << ds.status();
  ASSERT_EQ((*ds)->size(), 3);
  ShardSample s;
  ASSERT_TRUE((*ds)->Read(1, &s).ok());
  EXPECT_EQ(s.id, "images/00000001_001.png");
  EXPECT_EQ(s.patient_id, "1");  // kept for patient-level splits
  EXPECT_EQ(s.labels[10], 1.f);
  auto receipt = ShardReader::Open(Tmp("nih_out") + "/shard-00000.h5");
  ASSERT_TRUE(receipt.ok());
  EXPECT_EQ((*receipt)->ReadReceipt(0)->original_height, 80);
  // The manifest records the rules, and they reproduce the stored pixels
  // from the source image (what an export's preprocessing.json relies on).
  const PackingRules& rules = (*ds)->manifest().packing();
  EXPECT_EQ(rules.size(), 48);
  EXPECT_EQ(rules.resize(), "letterbox");
  EXPECT_TRUE(rules.remove_border());
  EXPECT_EQ(rules.pixel_type(), "uint8");
  auto source = DecodeImageFile(in + "/images/00000001_001.png");
  ASSERT_TRUE(source.ok());
  EXPECT_EQ(PackImage(source->image, rules).pixels, s.image.pixels);
}

// The source's own split is stored per image: split files first, then a label
// split column, then split folder names.
TEST(PackerTest, StoredSplitsFromFoldersColumnsAndListFiles) {
  const std::string in = Tmp("split_in");
  int k = 0;
  for (const char* split : {"train", "valid", "test"}) {
    for (const char* cls : {"a", "b"}) {
      for (int i = 0; i < 2; ++i, ++k) WriteImage(absl::StrCat(in, "/", split, "/", cls, "/x", k, ".png"), 48, k + 1);
    }
  }
  PackOptions o;
  o.input_dir = in;
  o.output_dir = Tmp("split_out");
  o.use_labels = true;
  o.labels.preset = "folders";
  o.size = 32;
  o.progress = false;
  auto r = Pack(o);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->splits.at("train"), 4);
  EXPECT_EQ(r->splits.at("val"), 4);
  EXPECT_EQ(r->splits.at("test"), 4);
  EXPECT_THAT(r->ToString(), HasSubstr("stored splits: test 4 train 4 val 4"));
  auto ds = ShardedDataset::Open(r->manifest);
  ASSERT_TRUE(ds.ok());
  ShardSample s;
  ASSERT_TRUE((*ds)->Read(0, &s).ok());
  EXPECT_EQ(s.split, SplitFromPath(s.id));
  EXPECT_EQ((*ds)->manifest().shards(0).split_test(), 4);

  // The input folder itself named as a split (--input=.../train) stores it.
  o.input_dir = in + "/valid/";
  o.output_dir = Tmp("split_out_valid");
  auto valid = Pack(o);
  ASSERT_TRUE(valid.ok()) << valid.status();
  EXPECT_EQ(valid->splits.at("val"), 4);
  EXPECT_EQ(valid->splits.size(), 1u);
  o.input_dir = in;

  // A split file wins over the folders; names it does not find are reported,
  // a name in two files fails naming both.
  const std::string tests = Tmp("test_list.txt");
  std::ofstream(tests) << "x0.png\nx1.png\nnot_here.png\n";
  o.split_lists = {{"test", tests}};
  o.output_dir = Tmp("split_out2");
  r = Pack(o);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->splits.at("test"), 6);
  EXPECT_THAT(r->ToString(), HasSubstr(tests + ":3: 'not_here.png' names no image under the input"));
  const std::string trains = Tmp("train_list.txt");
  std::ofstream(trains) << "x1.png\n";
  o.split_lists = {{"test", tests}, {"train", trains}};
  EXPECT_THAT(std::string(Pack(o).status().message()), HasSubstr("'x1.png' is in two split files: " + tests + ":2"));
  std::ofstream(trains) << "nothing.png\n";
  o.split_lists = {{"train", trains}};
  EXPECT_THAT(std::string(Pack(o).status().message()), HasSubstr("names none of the 12 images"));

  // A generic split column (values train / valid / test, any case).
  const std::string csv = Tmp("split_labels.csv");
  std::ofstream(csv) << "file,label,part\ntrain/a/x0.png,a,TRAIN\ntrain/b/x2.png,b,Valid\ntest/a/x8.png,a,test\n"
                        "test/b/x10.png,b,holdout\n";
  PackOptions g = o;
  g.split_lists.clear();
  g.labels.preset = "generic";
  g.labels.csv = csv;
  g.labels.label_column = "label";
  g.labels.split_column = "part";
  g.output_dir = Tmp("split_out3");
  r = Pack(g);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->splits.at("train"), 1);
  EXPECT_EQ(r->splits.at("val"), 1);
  // "holdout" is no split: the row is reported, and the folder name decides.
  EXPECT_EQ(r->splits.at("test"), 2);
  EXPECT_THAT(r->ToString(), HasSubstr("split 'holdout' is not train, val or test"));
}

TEST(LabelsTest, SeveralCsvsMergeByLabelName) {
  const std::string a = Tmp("part_a.csv"), b = Tmp("part_b.csv");
  std::ofstream(a) << "file,x,y\n1.png,1,0\n";
  std::ofstream(b) << "file,y,z\n2.png,1,1\n";
  LabelOptions o;
  o.preset = "generic";
  o.csv = a + "," + b;
  o.label_columns = {"x", "y"};
  auto t = LoadLabels(o);
  // label_columns name what each file must have: z is not one, so b fails.
  EXPECT_FALSE(t.ok());
  std::ofstream(b) << "file,x,y\n2.png,0,1\n1.png,1,1\n";
  t = LoadLabels(o);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_THAT(Labels(*t, "2.png"), ElementsAre(0.f, 1.f));
  EXPECT_THAT(Labels(*t, "1.png"), ElementsAre(1.f, 0.f));  // the first file's row is kept
  EXPECT_THAT(t->problems.back(), HasSubstr("'1.png' is also in an earlier file"));
  EXPECT_EQ(NormalizeSplit(" Validation "), "val");
  EXPECT_EQ(NormalizeSplit("dev"), "val");
  EXPECT_EQ(NormalizeSplit("holdout"), "");
}

TEST(PackerTest, SameShardsForAnyThreadCount) {
  const std::string in = Tmp("det_in");
  for (int i = 0; i < 9; ++i) WriteImage(in + "/c" + std::to_string(i % 2) + "/x" + std::to_string(i) + ".png", 64, i);
  std::string crc[2];
  for (int k = 0; k < 2; ++k) {
    PackOptions o;
    o.input_dir = in;
    o.output_dir = Tmp("det_out" + std::to_string(k));
    o.use_labels = true;
    o.labels.preset = "folders";
    o.size = 32;
    o.threads = k == 0 ? 1 : 4;
    o.progress = false;
    auto r = Pack(o);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_THAT(r->label_names, ElementsAre("c0", "c1"));
    ShardManifest m;
    auto ds = ShardedDataset::Open(r->manifest);
    ASSERT_TRUE(ds.ok());
    ShardSample s;
    std::string all;
    for (int i = 0; i < 9; ++i) {
      ASSERT_TRUE((*ds)->Read(i, &s).ok());
      auto bytes = ToUint8(s.image);
      all += s.id + std::string(bytes.begin(), bytes.end());
    }
    crc[k] = all;
  }
  EXPECT_EQ(crc[0], crc[1]);
}

TEST(PackerTest, MasksFromFoldersBoxesAndRunLengths) {
  // JSRT-style: names give the label, a mask folder gives lungs.
  const std::string in = Tmp("jsrt_in"), masks = Tmp("jsrt_masks");
  WriteImage(in + "/JPCLN001.png", 64, 1);
  WriteImage(in + "/JPCNN002.png", 64, 2);
  MakeDirectories(masks).IgnoreError();
  GrayImage m(64, 64, 0.0f);
  for (int y = 0; y < 32; ++y)
    for (int x = 0; x < 64; ++x) m.at(y, x) = 1.0f;
  std::ofstream(masks + "/JPCLN001.png", std::ios::binary) << *EncodePng8(m);
  std::ofstream(masks + "/JPCNN002.png", std::ios::binary) << *EncodePng8(m);
  PackOptions o;
  o.input_dir = in;
  o.output_dir = Tmp("jsrt_out");
  o.use_labels = true;
  o.labels.preset = "jsrt";
  o.mask_dirs = {{"lungs", masks}};
  o.size = 32;
  o.resize = "square";
  o.remove_border = false;
  o.progress = false;
  auto r = Pack(o);
  ASSERT_TRUE(r.ok()) << r.status();
  auto ds = ShardedDataset::Open(r->manifest);
  ASSERT_TRUE(ds.ok());
  ShardSample s;
  ASSERT_TRUE((*ds)->Read(0, &s).ok());
  EXPECT_EQ(s.labels[0], 1.f);
  ASSERT_EQ(s.masks.size(), 32u * 32);
  EXPECT_EQ(s.masks[5 * 32 + 5], 1);
  EXPECT_EQ(s.masks[25 * 32 + 5], 0);
  // RSNA boxes become masks.
  const std::string rin = Tmp("rsna_in");
  WriteImage(rin + "/00436515-870c-4b36-a041-de91049b9ab4.png", 1024, 5);
  WriteImage(rin + "/00313ee0-9eaa-42f4-b0ab-c148ed3241cd.png", 1024, 6);
  o = PackOptions();
  o.input_dir = rin;
  o.output_dir = Tmp("rsna_out");
  o.use_labels = true;
  o.labels.preset = "rsna";
  o.labels.csv = kData + "rsna_stage_2_train_labels.csv";
  o.size = 64;
  o.resize = "square";
  o.remove_border = false;
  o.progress = false;
  r = Pack(o);
  ASSERT_TRUE(r.ok()) << r.status();
  ds = ShardedDataset::Open(r->manifest);
  ASSERT_TRUE((*ds)->Read(0, &s).ok());  // sorted: 00313ee0 first (negative)
  EXPECT_EQ(std::accumulate(s.masks.begin(), s.masks.end(), 0), 0);
  ASSERT_TRUE((*ds)->Read(1, &s).ok());
  EXPECT_EQ(s.labels[0], 1.f);
  EXPECT_EQ(s.masks[(300 * 64 / 1024) * 64 + 300 * 64 / 1024], 1);  // inside box 1
  EXPECT_EQ(s.masks[2 * 64 + 2], 0);
}

TEST(PackerTest, SharedDicomsAndKermanyPack) {
  const std::string shared = SharedDataDir();
  if (shared.empty()) GTEST_SKIP() << "../shared/data absent: skipping the real-data packing check";
  PackOptions o;
  o.input_dir = shared + "/data/dicom";
  o.output_dir = Tmp("dicom_out");
  o.size = 128;
  o.pixel_type = PixelType::kUint16;
  o.progress = false;
  auto r = Pack(o);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->packed, 6) << r->ToString();
  auto reader = ShardReader::Open(Tmp("dicom_out") + "/shard-00000.h5");
  ASSERT_TRUE(reader.ok());
  auto receipt = (*reader)->ReadReceipt(0);
  EXPECT_EQ(receipt->photometric, "MONOCHROME1");
  EXPECT_THAT(receipt->windowing, HasSubstr("window center"));

  // kermany4: class folders.
  o = PackOptions();
  o.input_dir = shared + "/data/kermany4/train";
  o.output_dir = Tmp("kermany_out");
  o.use_labels = true;
  o.labels.preset = "folders";
  o.size = 64;
  o.progress = false;
  r = Pack(o);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->packed, 2002);
  EXPECT_THAT(r->label_names, ElementsAre("BacterialPneumonia", "COVID-19", "Normal", "ViralPneumonia"));
  EXPECT_THAT(r->positives, ElementsAre(650, 60, 880, 412));
  auto k4 = ShardedDataset::Open(r->manifest);
  ASSERT_TRUE(k4.ok()) << k4.status();
  EXPECT_EQ((*k4)->size(), 2002);

  // nih1000 with the official ChestX-ray14 label file.
  o = PackOptions();
  o.input_dir = shared + "/data/nih1000_64px";
  o.output_dir = Tmp("nih1000_out");
  o.use_labels = true;
  o.labels.preset = "nih";
  o.labels.csv = shared + "/data/nih1000_64px/Data_Entry_2017_v2020.csv.gz";
  o.size = 64;
  o.progress = false;
  r = Pack(o);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->packed, 1000) << r->ToString();
  EXPECT_EQ(r->label_names.size(), 14u);
  auto nih = ShardedDataset::Open(r->manifest);
  ASSERT_TRUE(nih.ok()) << nih.status();
  ShardSample s;
  ASSERT_TRUE((*nih)->Read(999, &s).ok());
  EXPECT_EQ(s.labels.size(), 14u);
}

}  // namespace
}  // namespace chexworld
