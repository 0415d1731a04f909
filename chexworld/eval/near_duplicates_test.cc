// The near-duplicate matcher on real radiographs (../shared/data/kermany4):
// recall on re-encoded, resized, brightness- and contrast-shifted copies, and
// no false pairs among the 2,002 distinct images, at the default distance.
// Prints the distances it saw, the evidence for kDefaultNearDuplicateDistance.
// (Distances count neighbour pairs with opposite signs, of 2,048.)
#include "chexworld/eval/near_duplicates.h"

#include <dirent.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <map>

#include <gtest/gtest.h>

#include "chexworld/core/paths.h"
#include "chexworld/data/decode.h"
#include "chexworld/data/resize.h"

namespace chexworld {
namespace {

constexpr int kEvalSize = 128;  // images are hashed at the evaluation's input size

std::vector<std::string> ListImages(const std::string& root) {
  std::vector<std::string> out;
  for (const char* cls : {"BacterialPneumonia", "COVID-19", "Normal", "ViralPneumonia"}) {
    const std::string dir = root + "/" + cls;
    DIR* d = opendir(dir.c_str());
    if (d == nullptr) continue;
    while (dirent* e = readdir(d)) {
      const std::string name = e->d_name;
      if (name.size() > 4 && (name.substr(name.size() - 4) == ".jpg" || name.substr(name.size() - 5) == ".jpeg")) {
        out.push_back(dir + "/" + name);
      }
    }
    closedir(d);
  }
  std::sort(out.begin(), out.end());
  return out;
}

GrayImage Map(GrayImage im, const std::function<float(float)>& f) {
  for (float& p : im.pixels) p = std::clamp(f(p), 0.0f, 1.0f);
  return im;
}

GrayImage Reencoded(const GrayImage& im, int quality) {
  auto bytes = EncodeJpeg8(im, quality);
  EXPECT_TRUE(bytes.ok()) << bytes.status();
  auto back = DecodeImageBytes(*bytes, "reencoded.jpg");
  EXPECT_TRUE(back.ok()) << back.status();
  return back->image;
}

TEST(NearDuplicates, SignaturesAndTheIndex) {
  GrayImage wave(64, 64);
  for (int y = 0; y < 64; ++y) {
    for (int x = 0; x < 64; ++x) wave.at(y, x) = 0.5f + 0.4f * std::sin(x / 3.0f) * std::cos(y / 4.0f);
  }
  GrayImage negative = wave;
  for (float& p : negative.pixels) p = 1.0f - p;
  const ImageSignature a = SignatureOf(wave), b = SignatureOf(negative), flat = SignatureOf(GrayImage(64, 64, 0.5f));
  int signed_pairs = 0;
  for (int w = 0; w < ImageSignature::kWords; ++w) signed_pairs += __builtin_popcountll(a.brighter[w] | a.darker[w]);
  EXPECT_GT(signed_pairs, 1000);
  EXPECT_EQ(SignatureDistance(a, a), 0);
  EXPECT_EQ(SignatureDistance(a, flat), 0) << "a flat image has no signs to oppose";
  EXPECT_FALSE(SameRadiograph(a, flat, 8)) << "nor any to agree with";
  EXPECT_TRUE(SameRadiograph(a, a, 0));
  EXPECT_EQ(a.signed_pairs, AgreeingPairs(a, a));
  EXPECT_EQ(SignatureDistance(a, b), signed_pairs) << "the negative reverses every sign";
  EXPECT_GT(SignatureDistance(a, b, 10), 10);
  EXPECT_LT(SignatureDistance(a, b, 10), signed_pairs) << "counting stops past the bound";
  NearDuplicateIndex index(8);
  index.Add(7, b);
  index.Add(9, a);
  EXPECT_EQ(index.Nearest(a).id, 9);
  EXPECT_EQ(index.Nearest(a, /*skip=*/9).id, -1);
  index.Add(11, flat);
  EXPECT_EQ(index.Nearest(SignatureOf(GrayImage(64, 64, 0.2f))).id, -1) << "blank frames match only exact copies";
}

TEST(NearDuplicates, RecallOnTransformedCopiesAndNoFalsePairsOnKermany4) {
  const std::string shared = SharedDataDir();
  if (shared.empty()) GTEST_SKIP() << "no shared data folder: the kermany4 near-duplicate check was not run";
  const std::vector<std::string> files = ListImages(shared + "/data/kermany4/train");
  ASSERT_GE(files.size(), 2000u) << "kermany4 is incomplete under " << shared;
  std::vector<GrayImage> originals;
  std::vector<ImageSignature> hashes;
  std::map<std::vector<float>, int> pixels_seen;
  std::vector<int> exact_copy_of(files.size(), -1);
  for (size_t i = 0; i < files.size(); ++i) {
    auto d = DecodeImageFile(files[i]);
    ASSERT_TRUE(d.ok()) << d.status();
    GrayImage im = Resize(d->image, kEvalSize, kEvalSize);
    auto [it, fresh] = pixels_seen.emplace(im.pixels, static_cast<int>(i));
    if (!fresh) exact_copy_of[i] = it->second;
    hashes.push_back(SignatureOf(im));
    originals.push_back(std::move(d->image));
  }
  // Distinct images: the smallest distance between any two that are not the
  // same pixels.
  int min_distinct = 1 << 20, exact_pairs = 0, false_pairs = 0;
  std::string closest;
  std::vector<int> distinct;
  for (size_t i = 0; i < files.size(); ++i) {
    for (size_t j = i + 1; j < files.size(); ++j) {
      if (exact_copy_of[j] >= 0 && (exact_copy_of[j] == static_cast<int>(i) || exact_copy_of[j] == exact_copy_of[i])) {
        ++exact_pairs;
        continue;
      }
      const int d = SignatureDistance(hashes[i], hashes[j]);
      distinct.push_back(d);
      if (d < min_distinct) {
        min_distinct = d;
        closest = files[i] + " / " + files[j];
      }
      if (SameRadiograph(hashes[i], hashes[j], kDefaultNearDuplicateDistance)) ++false_pairs;
    }
  }
  // Copies as another release would publish them: every 10th image.
  const std::vector<std::pair<std::string, std::function<GrayImage(const GrayImage&)>>> transforms = {
      {"jpeg q75", [](const GrayImage& im) { return Reencoded(im, 75); }},
      {"jpeg q85", [](const GrayImage& im) { return Reencoded(im, 85); }},
      {"jpeg q95", [](const GrayImage& im) { return Reencoded(im, 95); }},
      {"resized -10%", [](const GrayImage& im) { return Resize(im, im.height * 9 / 10, im.width * 9 / 10); }},
      {"resized +10%", [](const GrayImage& im) { return Resize(im, im.height * 11 / 10, im.width * 11 / 10); }},
      {"brightness +0.1", [](const GrayImage& im) { return Map(im, [](float p) { return p + 0.1f; }); }},
      {"brightness -0.1", [](const GrayImage& im) { return Map(im, [](float p) { return p - 0.1f; }); }},
      {"brightness +0.2", [](const GrayImage& im) { return Map(im, [](float p) { return p + 0.2f; }); }},
      {"contrast 0.8", [](const GrayImage& im) { return Map(im, [](float p) { return 0.5f + 0.8f * (p - 0.5f); }); }},
      {"contrast 1.25", [](const GrayImage& im) { return Map(im, [](float p) { return 0.5f + 1.25f * (p - 0.5f); }); }},
      {"gamma 0.7", [](const GrayImage& im) { return Map(im, [](float p) { return std::pow(p, 0.7f); }); }},
      {"gamma 1.3 + jpeg q80 + resized -5%",
       [](const GrayImage& im) {
         GrayImage g = Map(im, [](float p) { return std::pow(p, 1.3f); });
         return Resize(Reencoded(g, 80), im.height * 19 / 20, im.width * 19 / 20);
       }},
  };
  NearDuplicateIndex index(kDefaultNearDuplicateDistance);
  for (size_t i = 0; i < files.size(); ++i) index.Add(static_cast<int64_t>(i), hashes[i]);
  int copies = 0, found = 0, max_copy_distance = 0;
  std::string worst;
  for (const auto& [name, transform] : transforms) {
    int found_here = 0, max_here = 0, tried = 0;
    for (size_t i = 0; i < files.size(); i += 10, ++tried) {
      const ImageSignature h = SignatureOf(Resize(transform(originals[i]), kEvalSize, kEvalSize));
      const int d = SignatureDistance(h, hashes[i]);
      max_here = std::max(max_here, d);
      const auto match = index.Nearest(h);
      // Found: the original, or an exact copy of it elsewhere in the set.
      const bool same = match.id == static_cast<int64_t>(i) ||
                        (match.id >= 0 && hashes[match.id] == hashes[i]);
      found_here += same;
      if (d > max_copy_distance) {
        max_copy_distance = d;
        worst = name + " of " + files[i];
      }
    }
    std::printf("%-36s %3d of %3d copies matched to their original, distance up to %d\n", name.c_str(), found_here,
                tried, max_here);
    copies += tried;
    found += found_here;
  }
  std::sort(distinct.begin(), distinct.end());
  int fewest_signed = 2048;
  for (const auto& h : hashes) fewest_signed = std::min(fewest_signed, h.signed_pairs);
  std::printf("signed pairs per image: fewest %d of 2048\n", fewest_signed);
  std::printf("%zu images, %d exact-copy pairs; %zu distinct pairs: closest at distance %d (%s), 10th %d, 0.001%% %d, "
              "1%% %d, median %d; %d within %d\n",
              files.size(), exact_pairs, distinct.size(), min_distinct, closest.c_str(), distinct[9],
              distinct[distinct.size() / 100000], distinct[distinct.size() / 100], distinct[distinct.size() / 2],
              false_pairs, kDefaultNearDuplicateDistance);
  std::printf("transformed copies: %d of %d found; largest distance %d (%s)\n", found, copies, max_copy_distance,
              worst.c_str());
  EXPECT_EQ(found, copies) << "recall below 100% at distance " << kDefaultNearDuplicateDistance;
  EXPECT_EQ(false_pairs, 0) << "distinct radiographs matched at distance " << kDefaultNearDuplicateDistance;
  EXPECT_LT(max_copy_distance, min_distinct) << "the transforms and distinct images overlap";
}

}  // namespace
}  // namespace chexworld
