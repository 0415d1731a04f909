#include "chexworld/eval/leakage.h"

#include <algorithm>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace chexworld {
namespace {

// "a, b, c, ..." of at most `n` items.
std::string FirstFew(const std::vector<std::string>& items, size_t n, const char* sep) {
  std::vector<std::string> some(items.begin(), items.begin() + std::min(n, items.size()));
  return absl::StrCat(absl::StrJoin(some, sep), items.size() > n ? absl::StrCat(sep, "...") : "");
}

}  // namespace

absl::Status GuardLeakage(const EvalData& d, const std::vector<int64_t>& train, const std::vector<std::string>& patients,
                          const std::vector<std::string>& pixel_keys, const std::vector<ImageSignature>& signatures,
                          int max_distance, TaskData* t) {
  std::map<std::string, int64_t> seen;  // "p:patient" / "c:pixels" -> a train/val image
  NearDuplicateIndex near(max_distance);
  for (const std::vector<int64_t>* part : {&train, static_cast<const std::vector<int64_t>*>(&t->val)}) {
    for (int64_t i : *part) {
      if (!patients[i].empty()) seen.emplace("p:" + patients[i], i);
      if (!pixel_keys[i].empty()) seen.emplace("c:" + pixel_keys[i], i);
      near.Add(i, signatures[i]);
    }
  }
  std::set<std::string> shared_patients;
  std::vector<std::string> pairs;
  std::set<int64_t> overlapping;
  for (int64_t i : t->test) {
    bool hit = false;
    if (!patients[i].empty() && seen.count("p:" + patients[i])) {
      shared_patients.insert(patients[i]);
      hit = true;
    }
    std::string pair;
    if (!pixel_keys[i].empty()) {
      if (auto it = seen.find("c:" + pixel_keys[i]); it != seen.end()) {
        pair = absl::StrCat(t->ids[i], " = ", t->ids[it->second], " (equal pixels)");
      }
    }
    if (const auto match = near.Nearest(signatures[i]); pair.empty() && match.id >= 0) {
      pair = absl::StrCat(t->ids[i], " ~ ", t->ids[match.id], " (distance ", match.distance, ")");
    }
    if (!pair.empty()) {
      pairs.push_back(pair);
      hit = true;
    }
    if (hit) overlapping.insert(i);
  }
  t->overlap_pairs = pairs;
  if (!overlapping.empty()) {
    const std::vector<std::string> patient_list(shared_patients.begin(), shared_patients.end());
    t->overlap = absl::StrCat(
        overlapping.size(), " test images overlap train/val: ", shared_patients.size(), " shared patients",
        patient_list.empty() ? "" : " (" + FirstFew(patient_list, 5, ", ") + ")", ", ", pairs.size(),
        " duplicate images (",
        max_distance < 0 ? "equal pixels; near-duplicate matching off" : absl::StrCat("near-duplicate distance <= ", max_distance),
        ")",
        pairs.empty() ? "" : " (" + FirstFew(pairs, 5, "; ") + ")");
    if (d.drop_overlap()) {
      std::vector<int64_t> kept;
      for (int64_t i : t->test) {
        if (!overlapping.count(i)) kept.push_back(i);
      }
      t->test = kept;
      absl::StrAppend(&t->overlap, "; dropped from the test set (drop_overlap)");
    } else if (d.allow_overlap()) {
      absl::StrAppend(&t->overlap, "; kept (allow_overlap)");
    } else {
      return absl::FailedPreconditionError(absl::StrCat(
          "EvalData: leakage between train/val and test: ", t->overlap,
          ". Set allow_overlap: true to evaluate anyway, or drop_overlap: true to leave those test images out"));
    }
  }
  if (t->test.empty()) return absl::InvalidArgumentError("EvalData: no test images are left");
  return absl::OkStatus();
}

}  // namespace chexworld
