#include "chexworld/eval/shifts.h"

#include <algorithm>
#include <random>

#include "absl/strings/str_cat.h"
#include "chexworld/core/seed.h"
#include "chexworld/data/transforms/dual_view.h"

namespace chexworld {
namespace {

struct Kind {
  const char* name;
  std::vector<float> defaults;
  float lo, hi;  // valid strengths
};

const std::vector<Kind>& Kinds() {
  static const auto* k = new std::vector<Kind>{
      {"exposure", {0.6f, 0.8f, 1.25f, 1.5f}, 0.05f, 5.0f},
      {"gamma", {0.5f, 0.7f, 1.4f, 2.0f}, 0.1f, 10.0f},
      {"contrast", {0.4f, 0.6f, 0.8f}, 0.05f, 5.0f},
      {"blur", {1.0f, 2.0f, 3.0f}, 0.0f, 50.0f},
      {"noise", {0.03f, 0.06f, 0.1f}, 0.0f, 1.0f},
  };
  return *k;
}

}  // namespace

std::string ShiftLevel::label() const { return absl::StrCat(kind, " ", strength); }

absl::StatusOr<std::vector<ShiftLevel>> ExpandShifts(const EvalData& d) {
  std::vector<ShiftLevel> out;
  for (int i = 0; i < d.shifts_size(); ++i) {
    const AppearanceShift& s = d.shifts(i);
    const Kind* kind = nullptr;
    for (const auto& k : Kinds()) {
      if (s.kind() == k.name) kind = &k;
    }
    if (kind == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("EvalData.shifts[", i, "].kind '", s.kind(),
                                                     "' is not exposure, gamma, contrast, blur or noise"));
    }
    std::vector<float> strengths(s.strengths().begin(), s.strengths().end());
    if (strengths.empty()) strengths = kind->defaults;
    for (float v : strengths) {
      if (!(v >= kind->lo && v <= kind->hi)) {
        return absl::InvalidArgumentError(absl::StrCat("EvalData.shifts[", i, "] (", s.kind(), ") strength ", v,
                                                       " is outside [", kind->lo, ", ", kind->hi, "]"));
      }
      out.push_back(ShiftLevel{s.kind(), v});
    }
  }
  return out;
}

GrayImage ApplyShift(const GrayImage& image, const ShiftLevel& level, uint64_t seed, int64_t index) {
  GrayImage out = image;
  Action a = kIdentityAction;
  if (level.kind == "exposure") a[0] = level.strength;
  if (level.kind == "contrast") a[1] = level.strength;
  if (level.kind == "gamma") a[2] = level.strength;
  if (level.kind == "blur") a[3] = level.strength;
  ApplyAppearance(&out, a);
  if (level.kind == "noise" && level.strength > 0) {
    std::mt19937_64 rng(MixSeed(MixSeed(seed) ^ static_cast<uint64_t>(index)));
    std::normal_distribution<float> n(0.f, level.strength);
    for (float& v : out.pixels) v = std::clamp(v + n(rng), 0.f, 1.f);
  }
  return out;
}

}  // namespace chexworld
