// Near-duplicate radiographs, for the leakage guard and for keeping
// duplicates together in random splits.
//
// An image's signature is ternary: the image is area-downsampled to 32 x 33
// and 33 x 32, and for each of the 2 x 32 x 32 neighbour pairs (horizontal and
// vertical) it records whether the second pixel is brighter (+) or darker (-)
// than the first by more than kSignatureDeadZone (on [0, 1] intensities), or
// neither (0). The distance between two signatures counts the pairs whose
// signs are opposite (+ against -); a 0 on either side counts nothing. So a
// brightness or contrast change, a re-encoding or a resize, which flatten or
// jitter small differences but do not reverse clear ones, moves it little,
// while two different radiographs disagree on hundreds of pairs. A 0 carries
// no evidence either way, so a match must also agree on enough pairs: at
// least kMinAgreeingPairs and half the signed pairs of the flatter image (a
// blank or washed-out frame matches nothing but its own exact copy). Two
// images are the same radiograph when their distance is at most max_distance
// (kDefaultNearDuplicateDistance unless EvalData.duplicate_max_distance says
// otherwise); //chexworld/eval:near_duplicates_test measures both sides on
// the kermany4 radiographs.
#ifndef CHEXWORLD_EVAL_NEAR_DUPLICATES_H_
#define CHEXWORLD_EVAL_NEAR_DUPLICATES_H_

#include <array>
#include <climits>
#include <cstdint>
#include <string>
#include <vector>

#include "chexworld/data/image.h"

namespace chexworld {

inline constexpr float kSignatureDeadZone = 0.02f;
inline constexpr int kDefaultNearDuplicateDistance = 8;
inline constexpr int kMinAgreeingPairs = 64;

struct ImageSignature {
  static constexpr int kWords = 32;  // 2048 neighbour pairs
  std::array<uint64_t, kWords> brighter{}, darker{};
  int signed_pairs = 0;  // pairs that are + or -
  bool operator==(const ImageSignature& o) const { return brighter == o.brighter && darker == o.darker; }
};

ImageSignature SignatureOf(const GrayImage& image);

// Pairs with opposite signs; stops counting once past `stop_above` (the
// result is then some value > stop_above).
int SignatureDistance(const ImageSignature& a, const ImageSignature& b, int stop_above = INT_MAX);
// Pairs with the same sign (+ and +, or - and -).
int AgreeingPairs(const ImageSignature& a, const ImageSignature& b);
// Distance within max_distance and enough agreement (see above).
bool SameRadiograph(const ImageSignature& a, const ImageSignature& b, int max_distance, int* distance = nullptr);

// The nearest signature within max_distance among those added. A linear scan
// whose distances stop as soon as they pass the bound: different radiographs
// pass it within the first words (the pairs are stored in a scattered order,
// so every word samples the whole image).
class NearDuplicateIndex {
 public:
  // max_distance < 0: matching off (Nearest finds nothing).
  explicit NearDuplicateIndex(int max_distance) : max_distance_(max_distance) {}
  void Add(int64_t id, const ImageSignature& s) { entries_.emplace_back(id, s); }
  struct Match {
    int64_t id = -1;  // -1: none within max_distance
    int distance = 0;
  };
  // Lowest distance, then the earliest added; `skip` excluded.
  Match Nearest(const ImageSignature& s, int64_t skip = -1) const;
  int max_distance() const { return max_distance_; }
  size_t size() const { return entries_.size(); }

 private:
  int max_distance_;
  std::vector<std::pair<int64_t, ImageSignature>> entries_;
};

}  // namespace chexworld

#endif  // CHEXWORLD_EVAL_NEAR_DUPLICATES_H_
