// Shards (round trip, receipts, integrity errors), the phantom, the dual-view
// transform's geometry and actions, and the loader (determinism over thread
// counts, resume position, ranks, error propagation, shutdown).
#include <hdf5.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <thread>

#include "chexworld/core/config.h"
#include "chexworld/core/paths.h"
#include "chexworld/data/dataset.h"
#include "chexworld/data/datasets.pb.h"
#include "chexworld/data/loader.h"
#include "chexworld/data/phantom.h"
#include "chexworld/data/shard.h"
#include "chexworld/data/transforms/dual_view.h"
#include "chexworld/masks/multiblock.h"

namespace chexworld {
namespace {

using ::testing::HasSubstr;

std::string Tmp(const std::string& name) { return std::string(std::getenv("TEST_TMPDIR")) + "/" + name; }

ShardRecord Record(int i, int h, int w, int masks) {
  ShardRecord r;
  r.id = "img" + std::to_string(i);
  r.image = GrayImage(h, w);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) r.image.at(y, x) = static_cast<float>((x * 7 + y * 3 + i) % 256) / 255.0f;
  r.labels = {i % 2 ? 1.0f : 0.0f, i % 3 ? std::nanf("") : 1.0f};
  r.masks.assign(static_cast<size_t>(masks) * h * w, 0);
  if (masks > 0) r.masks[i] = 1;
  r.receipt.source_path = "/data/" + r.id + ".dcm";
  r.receipt.original_height = 2000 + i;
  r.receipt.original_width = 1800;
  r.receipt.bits_stored = 12;
  r.receipt.photometric = "MONOCHROME1";
  r.receipt.windowing = "window center 2048 width 4096";
  r.receipt.crop_box = Box{10, 20, 1900, 1700};
  r.receipt.content_box = Box{0, 2, h, w - 4};
  return r;
}

ShardSchema Schema(int h, int w) {
  ShardSchema s;
  s.height = h;
  s.width = w;
  s.label_names = {"effusion", "nodule"};
  s.mask_names = {"lungs"};
  return s;
}

TEST(ShardTest, RoundTripAcrossShardsWithReceipts) {
  const std::string dir = Tmp("set1");
  ShardSetWriter w(dir, Schema(24, 20), /*shard_size=*/4, "unit test");
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(w.Add(Record(i, 24, 20, 1)).ok());
  auto manifest = w.Finish();
  ASSERT_TRUE(manifest.ok()) << manifest.status();
  EXPECT_EQ(manifest->shards_size(), 3);
  EXPECT_EQ(manifest->total_images(), 10);
  EXPECT_EQ(manifest->shards(0).label_positive(0) + manifest->shards(1).label_positive(0) +
                manifest->shards(2).label_positive(0),
            5);
  auto ds = ShardedDataset::Open(dir + "/manifest.textproto", /*verify=*/true);
  ASSERT_TRUE(ds.ok()) << ds.status();
  ASSERT_EQ((*ds)->size(), 10);
  for (int i : {0, 3, 4, 9}) {
    ShardSample s;
    ASSERT_TRUE((*ds)->Read(i, &s).ok());
    EXPECT_EQ(s.id, "img" + std::to_string(i));
    EXPECT_EQ(ToUint8(s.image), ToUint8(Record(i, 24, 20, 1).image));
    EXPECT_EQ(s.labels[0], i % 2 ? 1.0f : 0.0f);
    EXPECT_EQ(std::isnan(s.labels[1]), i % 3 != 0);
    ASSERT_EQ(s.masks.size(), 24u * 20);
    EXPECT_EQ(s.masks[i], 1);
  }
  auto reader = ShardReader::Open(dir + "/shard-00001.h5");
  ASSERT_TRUE(reader.ok());
  auto receipt = (*reader)->ReadReceipt(1);
  ASSERT_TRUE(receipt.ok()) << receipt.status();
  EXPECT_EQ(receipt->source_path, "/data/img5.dcm");
  EXPECT_EQ(receipt->original_height, 2005);
  EXPECT_EQ(receipt->crop_box.w, 1700);
  EXPECT_EQ(receipt->photometric, "MONOCHROME1");
  ShardSample s;
  EXPECT_EQ((*ds)->Read(10, &s).code(), absl::StatusCode::kOutOfRange);
}

// More shards than stay open at once: files are closed and reopened as reads
// move between them, from several threads, and every image still reads back
// as written (ids, pixels, masks, receipts after a close).
TEST(ShardTest, ReadsAcrossMoreShardsThanStayOpen) {
  const std::string dir = Tmp("set_many");
  ShardSetWriter w(dir, Schema(12, 10), /*shard_size=*/2, "unit test");
  const int n = 40;  // 20 shards
  for (int i = 0; i < n; ++i) ASSERT_TRUE(w.Add(Record(i, 12, 10, 1)).ok());
  ASSERT_TRUE(w.Finish().ok());
  auto ds = ShardedDataset::Open(dir + "/manifest.textproto", /*verify=*/true);
  ASSERT_TRUE(ds.ok()) << ds.status();
  std::vector<std::thread> threads;
  std::atomic<int> bad{0};
  for (int t = 0; t < 3; ++t) {
    threads.emplace_back([&, t] {
      for (int k = 0; k < 3 * n; ++k) {
        const int i = (t % 2 ? n - 1 - k % n : (k * 7 + t) % n);
        ShardSample s;
        if (!(*ds)->Read(i, &s).ok() || s.id != "img" + std::to_string(i) ||
            ToUint8(s.image) != ToUint8(Record(i, 12, 10, 1).image) || s.masks.size() != 120u || s.masks[i] != 1) {
          ++bad;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(bad.load(), 0);
  auto reader = ShardReader::Open(dir + "/shard-00003.h5");
  ASSERT_TRUE(reader.ok());
  (*reader)->Close();
  auto receipt = (*reader)->ReadReceipt(1);
  ASSERT_TRUE(receipt.ok()) << receipt.status();
  EXPECT_EQ(receipt->source_path, "/data/img7.dcm");
}

// Found by tests/fuzz/shard_fuzz: receipts shorter than the image count were
// read past their end (a heap overflow); now each array is checked.
TEST(ShardTest, ShortReceiptsFailNamingTheArray) {
  const std::string path = Tmp("short_receipts.h5");
  auto w = ShardWriter::Create(path, Schema(8, 8));
  ASSERT_TRUE(w.ok());
  for (int i = 0; i < 3; ++i) ASSERT_TRUE((*w)->Add(Record(i, 8, 8, 1)).ok());
  ASSERT_TRUE((*w)->Close().ok());
  {  // Replace receipts/crop_box with a one-entry array.
    hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
    ASSERT_GE(f, 0);
    ASSERT_GE(H5Ldelete(f, "receipts/crop_box", H5P_DEFAULT), 0);
    hsize_t dims[2] = {1, 4};
    int32_t box[4] = {0, 0, 8, 8};
    hid_t space = H5Screate_simple(2, dims, nullptr);
    hid_t ds = H5Dcreate2(f, "receipts/crop_box", H5T_NATIVE_INT32, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    ASSERT_GE(H5Dwrite(ds, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, box), 0);
    H5Dclose(ds);
    H5Sclose(space);
    H5Fclose(f);
  }
  auto r = ShardReader::Open(path);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE((*r)->ReadReceipt(0).ok());
  auto bad = (*r)->ReadReceipt(2);
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("receipts/crop_box has 1 entries, image 2 needs 3"));
}

// Version 2 stores each image's split; readers still read version 1 shards
// (no /splits; every split "").
TEST(ShardTest, SplitsAndVersionOneShards) {
  const std::string dir = Tmp("v2");
  ShardSetWriter w(dir, Schema(8, 8), 8, "unit test");
  for (int i = 0; i < 3; ++i) {
    ShardRecord r = Record(i, 8, 8, 1);
    r.split = i == 0 ? "train" : i == 1 ? "test" : "";
    ASSERT_TRUE(w.Add(std::move(r)).ok());
  }
  ASSERT_TRUE(w.Finish().ok());
  auto ds = ShardedDataset::Open(dir + "/manifest.textproto");
  ASSERT_TRUE(ds.ok()) << ds.status();
  EXPECT_EQ((*ds)->manifest().schema_version(), 2);
  ShardSample s;
  ASSERT_TRUE((*ds)->Read(1, &s).ok());
  EXPECT_EQ(s.split, "test");
  EXPECT_NE(s.crc32, 0u);
  ShardManifest m = (*ds)->manifest();
  ds->reset();  // close the file before rewriting it

  // Make it a version 1 shard: attribute 1, no /splits, manifest version 1.
  const std::string shard = dir + "/shard-00000.h5";
  {
    hid_t f = H5Fopen(shard.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
    ASSERT_GE(f, 0);
    ASSERT_GE(H5Ldelete(f, "splits", H5P_DEFAULT), 0);
    hid_t a = H5Aopen(f, "schema_version", H5P_DEFAULT);
    const int64_t one = 1;
    ASSERT_GE(H5Awrite(a, H5T_NATIVE_INT64, &one), 0);
    H5Aclose(a);
    H5Fclose(f);
  }
  m.set_schema_version(1);
  int64_t bytes = 0;
  m.mutable_shards(0)->set_file_crc32(*FileCrc32(shard, &bytes));
  m.mutable_shards(0)->set_file_bytes(bytes);
  ASSERT_TRUE(WriteTextProto(m, dir + "/manifest.textproto").ok());
  auto v1 = ShardedDataset::Open(dir + "/manifest.textproto");
  ASSERT_TRUE(v1.ok()) << v1.status();
  ASSERT_TRUE((*v1)->Read(1, &s).ok());
  EXPECT_EQ(s.split, "");
}

TEST(ShardTest, SixteenBitImages) {
  ShardSchema schema = Schema(8, 8);
  schema.pixel_type = PixelType::kUint16;
  schema.mask_names.clear();
  auto w = ShardWriter::Create(Tmp("u16.h5"), schema);
  ASSERT_TRUE(w.ok());
  ShardRecord r = Record(0, 8, 8, 0);
  r.image.at(3, 3) = 0.123456f;
  ASSERT_TRUE((*w)->Add(r).ok());
  ASSERT_TRUE((*w)->Close().ok());
  auto reader = ShardReader::Open(Tmp("u16.h5"));
  ASSERT_TRUE(reader.ok()) << reader.status();
  ShardSample s;
  ASSERT_TRUE((*reader)->Read(0, &s).ok());
  EXPECT_NEAR(s.image.at(3, 3), 0.123456f, 1.0f / 65535);
}

TEST(ShardTest, BadRecordsAreRejectedNamingTheId) {
  auto w = ShardWriter::Create(Tmp("bad.h5"), Schema(8, 8));
  ASSERT_TRUE(w.ok());
  ShardRecord r = Record(0, 8, 9, 1);
  auto s = (*w)->Add(r);
  EXPECT_THAT(std::string(s.message()), HasSubstr("record 'img0': image is 8x9"));
  r = Record(0, 8, 8, 1);
  r.labels.pop_back();
  EXPECT_THAT(std::string((*w)->Add(r).message()), HasSubstr("1 labels, schema has 2"));
}

TEST(ShardTest, CorruptionAndWrongSchemaFailClearly) {
  const std::string dir = Tmp("set2");
  ShardSetWriter w(dir, Schema(64, 64), 8, "unit test");
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(w.Add(Record(i, 64, 64, 0 + 1)).ok());
  ASSERT_TRUE(w.Finish().ok());
  // Flip bytes inside image 1's chunk (found through HDF5's chunk index).
  const std::string path = dir + "/shard-00000.h5";
  haddr_t addr = 0;
  hsize_t chunk_bytes = 0;
  {
    hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t d = H5Dopen2(f, "images", H5P_DEFAULT);
    hsize_t at[3] = {1, 0, 0};
    unsigned filter_mask = 0;
    ASSERT_GE(H5Dget_chunk_info_by_coord(d, at, &filter_mask, &addr, &chunk_bytes), 0);
    H5Dclose(d);
    H5Fclose(f);
  }
  std::string bytes = *ReadFile(path);
  ASSERT_GT(chunk_bytes, 8u);
  for (size_t k = addr + 4; k < addr + chunk_bytes - 4; ++k) bytes[k] ^= 0x5a;
  ASSERT_TRUE(WriteFileAtomically(path, bytes).ok());
  auto verified = ShardedDataset::Open(dir + "/manifest.textproto", /*verify=*/true);
  ASSERT_FALSE(verified.ok());
  EXPECT_THAT(std::string(verified.status().message()), HasSubstr("shard 0"));
  EXPECT_THAT(std::string(verified.status().message()), HasSubstr("CRC-32"));
  auto ds = ShardedDataset::Open(dir + "/manifest.textproto", /*verify=*/false);
  if (ds.ok()) {
    int failures = 0;
    for (int i = 0; i < 4; ++i) {
      ShardSample s;
      auto st = (*ds)->Read(i, &s);
      if (!st.ok()) {
        ++failures;
        EXPECT_THAT(std::string(st.message()), HasSubstr(path));
        EXPECT_THAT(std::string(st.message()), HasSubstr("image " + std::to_string(i)));
      }
    }
    EXPECT_GT(failures, 0);
  }
  // Not a shard / wrong version.
  std::ofstream(Tmp("plain.h5")) << "not hdf5";
  EXPECT_THAT(std::string(ShardReader::Open(Tmp("plain.h5")).status().message()), HasSubstr("not a readable HDF5"));
  ShardManifest m;
  ASSERT_TRUE(ParseTextProtoFile(dir + "/manifest.textproto", &m).ok());
  m.set_schema_version(99);
  ASSERT_TRUE(WriteTextProto(m, Tmp("v99.textproto")).ok());
  EXPECT_THAT(std::string(ShardedDataset::Open(Tmp("v99.textproto")).status().message()), HasSubstr("schema_version 99"));
}

TEST(PhantomTest, DeterministicWithLabelsAndMasks) {
  PhantomOptions o;
  o.image_size = 64;
  PhantomImage a = MakePhantom(o, 5, 17), b = MakePhantom(o, 5, 17), c = MakePhantom(o, 5, 18);
  EXPECT_EQ(a.image.pixels, b.image.pixels);
  EXPECT_NE(a.image.pixels, c.image.pixels);
  ASSERT_EQ(a.labels.size(), PhantomLabelNames().size());
  ASSERT_EQ(a.masks.size(), PhantomMaskNames().size() * 64 * 64);
  int positives = 0, opacity_pixels_when_negative = 0;
  for (int i = 0; i < 60; ++i) {
    PhantomImage p = MakePhantom(o, 1, i);
    int lesion = 0, lungs = 0;
    for (int k = 0; k < 64 * 64; ++k) lungs += p.masks[k], lesion += p.masks[2 * 64 * 64 + k];
    EXPECT_GT(lungs, 200);
    if (p.labels[0] > 0.5f) ++positives;
    else opacity_pixels_when_negative += lesion;
  }
  EXPECT_GT(positives, 5);
  EXPECT_EQ(opacity_pixels_when_negative, 0);
}

TEST(PhantomTest, RegisteredDatasetGeneratesOnceAndReads) {
  ComponentSpec spec;
  ASSERT_TRUE(ParseTextProto(R"pb(name: "phantom"
      options { [type.googleapis.com/chexworld.PhantomDatasetOptions] { num_images: 20 image_size: 48 shard_size: 8 } })pb",
                             "spec", &spec).ok());
  ASSERT_TRUE(ApplyOverride("options.cache_dir=" + Tmp("cache"), &spec).ok());
  auto ds = CreateDataset(spec);
  ASSERT_TRUE(ds.ok()) << ds.status();
  EXPECT_EQ((*ds)->size(), 20);
  EXPECT_EQ((*ds)->label_names(), PhantomLabelNames());
  ShardSample s;
  ASSERT_TRUE((*ds)->Read(13, &s).ok());
  EXPECT_EQ(s.id, "phantom-000013");
  auto again = CreateDataset(spec);  // reuses the cache
  ASSERT_TRUE(again.ok());
}

DualViewOptions Resolved(const std::string& text) {
  DualViewOptions o;
  EXPECT_TRUE(ParseTextProto(text, "dual_view", &o).ok());
  auto r = ResolveDualViewOptions(o);
  EXPECT_TRUE(r.ok()) << r.status();
  return *r;
}

// On a horizontal ramp (value = x / W), the relative position must map every
// column of view 2 to the view-1 column that sees the same source x
// (METHOD 1.4: x' = c + dj*G, or dflip*G - c - 1 under a relative flip).
TEST(DualViewTest, RelativePositionMatchesTheCropGeometry) {
  GrayImage ramp(300, 400);
  for (int y = 0; y < 300; ++y)
    for (int x = 0; x < 400; ++x) ramp.at(y, x) = (x + 0.5f) / 400.0f;
  DualViewOptions o = Resolved("output_size: 64 disable_shared_jitter: true disable_action: true");
  int flips = 0;
  for (uint64_t seed = 0; seed < 40; ++seed) {
    std::mt19937_64 rng(seed);
    DualViewSample d = MakeDualView(ramp, o, rng);
    const double S = 64, w = d.crop1.w;
    // Source x of view-1 column u (fractional): through view 1's own flip.
    auto src1 = [&](double u) {
      double fx = d.crop1.x + (u + 0.5) * w / S;
      return d.flip1 ? 400 - fx : fx;
    };
    flips += d.rel_pos_21[2] > 0.5f;
    for (int c : {8, 32, 55}) {
      const double xprime = d.rel_pos_21[2] > 0.5f ? d.rel_pos_21[3] * S - c - 1 : c + d.rel_pos_21[1] * S;
      const double expected = src1(xprime) / 400.0;
      EXPECT_NEAR(d.view2.at(32, c), expected, 2e-3) << "seed " << seed << " column " << c;
    }
    EXPECT_FLOAT_EQ(d.rel_pos_12[0], -d.rel_pos_21[0]);
    EXPECT_FLOAT_EQ(d.rel_pos_12[3], d.rel_pos_21[3]);
  }
  EXPECT_GT(flips, 5);
}

TEST(DualViewTest, ActionsFollowTheOfficialDistribution) {
  GrayImage img(64, 64, 0.5f);
  DualViewOptions o = Resolved("output_size: 32");
  int identity = 0, blurred = 0;
  for (uint64_t seed = 0; seed < 600; ++seed) {
    std::mt19937_64 rng(seed);
    DualViewSample d = MakeDualView(img, o, rng);
    for (const Action& a : {d.action1, d.action2}) {
      EXPECT_GE(a[0], 0.6f);
      EXPECT_LE(a[0], 1.4f);
      EXPECT_GE(a[2], 0.5f);
      EXPECT_LE(a[2], 2.0f);
      EXPECT_EQ(a[4], 0.0f);  // noise is off in the official recipe
      identity += a[0] == 1.f && a[1] == 1.f && a[2] == 1.f;
      blurred += a[3] > 0.f;
    }
  }
  EXPECT_NEAR(identity / 1200.0, 0.2, 0.05);
  EXPECT_NEAR(blurred / 1200.0, 0.2, 0.05);
  // disable_action: the context view is the clean view.
  DualViewOptions off = Resolved("output_size: 32 disable_action: true");
  std::mt19937_64 rng(1);
  DualViewSample d = MakeDualView(img, off, rng);
  EXPECT_EQ(d.action1, kIdentityAction);
  EXPECT_EQ(d.aug1.pixels, d.view1.pixels);
}

TEST(DualViewTest, BadOptionsNameTheField) {
  DualViewOptions o;
  o.set_scale_min(0.9f);
  o.set_scale_max(0.5f);
  EXPECT_THAT(std::string(ResolveDualViewOptions(o).status().message()), HasSubstr("DualViewOptions.scale_min"));
  o = DualViewOptions();
  o.set_normalization("nope");
  EXPECT_THAT(std::string(ResolveDualViewOptions(o).status().message()), HasSubstr("normalization 'nope'"));
}

std::shared_ptr<ViewTransform> Transform(const std::string& options) {
  ComponentSpec spec;
  EXPECT_TRUE(ParseTextProto("name: \"dual_view\" options { [type.googleapis.com/chexworld.DualViewOptions] { " +
                                 options + " } }", "spec", &spec).ok());
  auto t = CreateViewTransform(spec);
  EXPECT_TRUE(t.ok()) << t.status();
  return *t;
}

class LoaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ComponentSpec spec;
    ASSERT_TRUE(ParseTextProto(R"pb(name: "phantom" options { [type.googleapis.com/chexworld.PhantomDatasetOptions] { num_images: 40 image_size: 64 } })pb",
                               "spec", &spec).ok());
    ASSERT_TRUE(ApplyOverride("options.cache_dir=" + Tmp("loader_cache"), &spec).ok());
    auto ds = CreateDataset(spec);
    ASSERT_TRUE(ds.ok()) << ds.status();
    dataset_ = *ds;
    MultiblockOptions mo;
    masker_ = std::make_shared<MultiblockMasker>(*ResolveMultiblockOptions(mo));
  }
  std::unique_ptr<PretrainLoader> Make(int workers, int rank = 0, int world = 1, bool pack = false) {
    LoaderOptions lo;
    lo.pack = pack;
    lo.batch_size = 6;
    lo.num_workers = workers;
    lo.seed = 11;
    lo.patch_size = 8;
    lo.rank = rank;
    lo.world_size = world;
    auto l = PretrainLoader::Create(dataset_, Transform("output_size: 48"), masker_, lo);
    EXPECT_TRUE(l.ok()) << l.status();
    return std::move(*l);
  }
  std::vector<WorldModelBatch> Epoch(PretrainLoader& l, int64_t epoch, int64_t start = 0) {
    l.Start(epoch, start);
    std::vector<WorldModelBatch> out;
    while (true) {
      auto b = l.Next();
      EXPECT_TRUE(b.ok()) << b.status();
      if (!b.ok() || !b->has_value()) break;
      out.push_back(**b);
    }
    return out;
  }
  std::shared_ptr<Dataset> dataset_;
  std::shared_ptr<Masker> masker_;
};

bool Same(const WorldModelBatch& a, const WorldModelBatch& b) {
  return torch::equal(a.image1, b.image1) && torch::equal(a.image_aug2, b.image_aug2) &&
         torch::equal(a.action1, b.action1) && torch::equal(a.rel_pos_21, b.rel_pos_21) &&
         torch::equal(a.masks_enc1, b.masks_enc1) && torch::equal(a.masks_pred2, b.masks_pred2);
}

TEST_F(LoaderTest, SameBatchesWhateverTheThreadCount) {
  auto l0 = Make(0), l1 = Make(1), l3 = Make(3);
  auto e0 = Epoch(*l0, 2), e1 = Epoch(*l1, 2), e3 = Epoch(*l3, 2);
  ASSERT_EQ(e0.size(), 6u);  // 40 images / 6 per batch, last partial batch dropped
  ASSERT_EQ(e1.size(), e0.size());
  ASSERT_EQ(e3.size(), e0.size());
  for (size_t i = 0; i < e0.size(); ++i) {
    EXPECT_TRUE(Same(e0[i], e1[i])) << i;
    EXPECT_TRUE(Same(e0[i], e3[i])) << i;
  }
  const auto& b = e0[0];
  EXPECT_EQ(b.image1.sizes(), (std::vector<int64_t>{6, 1, 48, 48}));
  EXPECT_EQ(b.action1.sizes(), (std::vector<int64_t>{6, 5}));
  EXPECT_EQ(b.masks_enc1.size(0), 6);
  EXPECT_EQ(b.masks_enc2.sizes(), b.masks_enc1.sizes());
  EXPECT_LT(b.masks_pred1.max().item<int64_t>(), 36);
  // Another epoch is another order.
  auto other = Epoch(*l0, 3);
  EXPECT_FALSE(Same(e0[0], other[0]));
}

// Packed batches (for CUDA trainers): the same values, every field a view of
// one float or one int64 buffer; moved elsewhere they keep their shapes.
TEST_F(LoaderTest, PackedBatchesHoldTheSameValuesInTwoBuffers) {
  auto plain = Make(1), packed = Make(2, 0, 1, /*pack=*/true);
  auto e = Epoch(*plain, 1), p = Epoch(*packed, 1);
  ASSERT_EQ(e.size(), p.size());
  for (size_t i = 0; i < e.size(); ++i) {
    ASSERT_TRUE(p[i].packed());
    EXPECT_FALSE(e[i].packed());
    EXPECT_TRUE(Same(e[i], p[i])) << i;
  }
  const WorldModelBatch& b = p[0];
  EXPECT_TRUE(b.image1.storage().is_alias_of(b.action1.storage())) << "floats share one buffer";
  EXPECT_TRUE(b.masks_enc1.storage().is_alias_of(b.masks_pred2.storage())) << "masks share one buffer";
  const WorldModelBatch m = b.To(torch::Device(torch::kMeta));
  EXPECT_EQ(m.image_aug2.sizes(), b.image_aug2.sizes());
  EXPECT_EQ(m.masks_pred2.sizes(), b.masks_pred2.sizes());
  EXPECT_EQ(m.masks_pred2.storage_offset(), b.masks_pred2.storage_offset());
  EXPECT_TRUE(m.image1.is_meta());
}

TEST_F(LoaderTest, ResumesAtABatchAndSplitsRanks) {
  auto l = Make(2);
  auto full = Epoch(*l, 1);
  auto tail = Epoch(*l, 1, 4);
  ASSERT_EQ(tail.size(), full.size() - 4);
  EXPECT_TRUE(Same(tail[0], full[4]));
  auto r0 = Make(1, 0, 2), r1 = Make(1, 1, 2);
  EXPECT_EQ(r0->batches_per_epoch(), 3);
  auto a = Epoch(*r0, 0), b = Epoch(*r1, 0);
  EXPECT_FALSE(torch::equal(a[0].image1, b[0].image1));
}

TEST_F(LoaderTest, StopsCleanlyMidEpoch) {
  auto l = Make(3);
  l->Start(0);
  auto b = l->Next();
  ASSERT_TRUE(b.ok());
  l.reset();  // joins its threads
  SUCCEED();
}

TEST_F(LoaderTest, ReadErrorsReachTheTrainerNamingFileAndIndex) {
  // A shard set whose image chunks are corrupt.
  const std::string dir = Tmp("corrupt_set");
  ShardSetWriter w(dir, Schema(64, 64), 16, "unit test");
  for (int i = 0; i < 16; ++i) ASSERT_TRUE(w.Add(Record(i, 64, 64, 1)).ok());
  ASSERT_TRUE(w.Finish().ok());
  const std::string path = dir + "/shard-00000.h5";
  std::string bytes = *ReadFile(path);
  for (size_t k = bytes.size() / 4; k < bytes.size() * 3 / 4; k += 97) bytes[k] ^= 0x33;
  ASSERT_TRUE(WriteFileAtomically(path, bytes).ok());
  auto shards = ShardedDataset::Open(dir + "/manifest.textproto", /*verify=*/false);
  if (!shards.ok()) {
    EXPECT_THAT(std::string(shards.status().message()), HasSubstr(path));
    return;
  }
  LoaderOptions lo;
  lo.batch_size = 8;
  lo.num_workers = 2;
  lo.patch_size = 8;
  auto l = PretrainLoader::Create(std::make_shared<ShardDataset>(std::move(*shards)), Transform("output_size: 32"),
                                  masker_, lo);
  ASSERT_TRUE(l.ok());
  (*l)->Start(0);
  bool failed = false;
  for (int i = 0; i < 2; ++i) {
    auto b = (*l)->Next();
    if (!b.ok()) {
      failed = true;
      EXPECT_THAT(std::string(b.status().message()), HasSubstr(path));
      break;
    }
  }
  EXPECT_TRUE(failed);
}

}  // namespace
}  // namespace chexworld

namespace chexworld {
namespace {

// Random byte corruption anywhere in a shard. HDF5 itself is not robust to
// corrupt metadata (it can crash or exhaust memory), so shards are checked
// against the manifest's CRC-32 before HDF5 sees them: every corrupted file
// must be rejected with a message naming it.
TEST(ShardFuzzTest, RandomCorruptionIsRejectedBeforeHdf5ReadsIt) {
  const std::string dir = Tmp("fuzz_set");
  ShardSetWriter w(dir, Schema(32, 32), 64, "fuzz");
  for (int i = 0; i < 6; ++i) ASSERT_TRUE(w.Add(Record(i, 32, 32, 1)).ok());
  ASSERT_TRUE(w.Finish().ok());
  const std::string path = dir + "/shard-00000.h5";
  const std::string clean = *ReadFile(path);
  // CHEXWORLD_FUZZ_TRIALS / CHEXWORLD_FUZZ_SEED run longer campaigns.
  const char* env_trials = std::getenv("CHEXWORLD_FUZZ_TRIALS");
  const char* env_seed = std::getenv("CHEXWORLD_FUZZ_SEED");
  std::mt19937_64 rng(env_seed ? std::strtoull(env_seed, nullptr, 10) : 7);
  const int trials = env_trials ? std::atoi(env_trials) : 300;
  int rejected = 0;
  for (int t = 0; t < trials; ++t) {
    std::string bytes = clean;
    for (int k = 0; k < 1 + t % 5; ++k) bytes[rng() % bytes.size()] ^= static_cast<char>(1 + rng() % 255);
    if (t % 7 == 0) bytes.resize(rng() % bytes.size());
    ASSERT_TRUE(WriteFileAtomically(path, bytes).ok());
    auto ds = ShardedDataset::Open(dir + "/manifest.textproto");
    ASSERT_FALSE(ds.ok()) << "trial " << t << ": a corrupted shard was accepted";
    EXPECT_THAT(std::string(ds.status().message()), HasSubstr(path));
    ++rejected;
  }
  std::cout << "shard corruption trials: " << trials << ", all rejected: " << rejected << "\n";
  ASSERT_TRUE(WriteFileAtomically(path, clean).ok());
  EXPECT_TRUE(ShardedDataset::Open(dir + "/manifest.textproto").ok());
}

}  // namespace
}  // namespace chexworld
