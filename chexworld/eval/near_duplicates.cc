#include "chexworld/eval/near_duplicates.h"

#include <algorithm>

#include "chexworld/data/resize.h"

namespace chexworld {
namespace {

constexpr int kGrid = 32;
constexpr int kPairs = 2 * kGrid * kGrid;  // 2048
static_assert(kPairs == 64 * ImageSignature::kWords, "one bit per neighbour pair");

// Pair p is stored at bit (p * 1021) mod 2048 (1021 is odd, so this is a
// bijection): consecutive words hold pairs from all over the image.
int Slot(int p) { return (p * 1021) % kPairs; }

}  // namespace

ImageSignature SignatureOf(const GrayImage& image) {
  const GrayImage h = Resize(image, kGrid, kGrid + 1), v = Resize(image, kGrid + 1, kGrid);
  ImageSignature s;
  int p = 0;
  auto put = [&](float first, float second) {
    const int slot = Slot(p++);
    if (second > first + kSignatureDeadZone) s.brighter[slot / 64] |= uint64_t{1} << (slot % 64);
    if (second < first - kSignatureDeadZone) s.darker[slot / 64] |= uint64_t{1} << (slot % 64);
  };
  for (int y = 0; y < kGrid; ++y) {
    for (int x = 0; x < kGrid; ++x) put(h.at(y, x), h.at(y, x + 1));
  }
  for (int y = 0; y < kGrid; ++y) {
    for (int x = 0; x < kGrid; ++x) put(v.at(y, x), v.at(y + 1, x));
  }
  for (int w = 0; w < ImageSignature::kWords; ++w) s.signed_pairs += __builtin_popcountll(s.brighter[w] | s.darker[w]);
  return s;
}

int AgreeingPairs(const ImageSignature& a, const ImageSignature& b) {
  int n = 0;
  for (int w = 0; w < ImageSignature::kWords; ++w) {
    n += __builtin_popcountll((a.brighter[w] & b.brighter[w]) | (a.darker[w] & b.darker[w]));
  }
  return n;
}

bool SameRadiograph(const ImageSignature& a, const ImageSignature& b, int max_distance, int* distance) {
  const int d = SignatureDistance(a, b, max_distance);
  if (distance != nullptr) *distance = d;
  if (d > max_distance) return false;
  return AgreeingPairs(a, b) >= std::max(kMinAgreeingPairs, std::min(a.signed_pairs, b.signed_pairs) / 2);
}

int SignatureDistance(const ImageSignature& a, const ImageSignature& b, int stop_above) {
  int d = 0;
  for (int w = 0; w < ImageSignature::kWords; ++w) {
    d += __builtin_popcountll(a.brighter[w] & b.darker[w]) + __builtin_popcountll(a.darker[w] & b.brighter[w]);
    if (d > stop_above) return d;
  }
  return d;
}

NearDuplicateIndex::Match NearDuplicateIndex::Nearest(const ImageSignature& s, int64_t skip) const {
  Match best;
  if (max_distance_ < 0) return best;
  for (const auto& [id, other] : entries_) {
    if (id == skip) continue;
    const int bound = best.id < 0 ? max_distance_ : best.distance - 1;
    int d = 0;
    if (SameRadiograph(s, other, bound, &d)) best = {id, d};
    if (best.id >= 0 && best.distance == 0) break;
  }
  return best;
}

}  // namespace chexworld
