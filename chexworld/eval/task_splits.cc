#include "chexworld/eval/task_splits.h"

#include <algorithm>
#include <map>
#include <numeric>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "chexworld/core/status_macros.h"
#include "chexworld/eval/eval_data.h"
#include "chexworld/eval/leakage.h"

namespace chexworld {
namespace {

// Union-find over images: patients and duplicates travel together.
struct Groups {
  std::vector<int64_t> parent;
  explicit Groups(int64_t n) : parent(n) { std::iota(parent.begin(), parent.end(), 0); }
  int64_t Find(int64_t x) {
    while (parent[x] != x) x = parent[x] = parent[parent[x]];
    return x;
  }
  void Join(int64_t a, int64_t b) { parent[Find(a)] = Find(b); }
};

// `fractions` are cumulative bounds (0.6, 0.8, 1.0 for 60/20/20).
// Deals shuffled groups of `members` into the parts: each group goes to the
// part furthest below its share (fractions of the members), so parts end
// near their shares even when some groups are large, and none stays empty
// while a group could fill it.
void FillByGroups(const std::vector<int64_t>& members, Groups* groups, const std::vector<double>& fractions,
                  std::mt19937_64* rng, std::vector<std::vector<int64_t>*> into) {
  std::map<int64_t, std::vector<int64_t>> by_root;
  for (int64_t i : members) by_root[groups->Find(i)].push_back(i);
  std::vector<const std::vector<int64_t>*> order;
  for (const auto& [root, g] : by_root) order.push_back(&g);
  std::shuffle(order.begin(), order.end(), *rng);
  const double total = static_cast<double>(members.size());
  std::vector<double> target;
  double previous = 0;
  for (double f : fractions) {  // cumulative bounds -> shares
    target.push_back((std::min(f, 1.0) - previous) * total);
    previous = std::min(f, 1.0);
  }
  for (const auto* g : order) {
    size_t best = 0;
    for (size_t k = 1; k < into.size(); ++k) {
      if (target[k] - into[k]->size() > target[best] - into[best]->size()) best = k;
    }
    into[best]->insert(into[best]->end(), g->begin(), g->end());
  }
}

// Patients, equal pixels and near-duplicate images of the first dataset
// travel together.
void GroupImages(const SplitInputs& in, int max_distance, Groups* groups) {
  std::map<std::string, int64_t> first;
  NearDuplicateIndex seen(max_distance);
  for (int64_t i = 0; i < in.n1; ++i) {
    for (const std::string& key : {in.patients[i].empty() ? std::string() : "p:" + in.patients[i],
                                   absl::StrCat("c:", in.crcs[i])}) {
      if (key.empty()) continue;
      auto [it, inserted] = first.emplace(key, i);
      if (!inserted) groups->Join(i, it->second);
    }
    if (const auto match = seen.Nearest(in.signatures[i]); match.id >= 0) groups->Join(i, match.id);
    seen.Add(i, in.signatures[i]);
  }
}

// The stored train / val / test of the first dataset (val carved from train
// when it stores none).
absl::Status StoredSplits(const EvalData& d, const SplitInputs& in, bool external, Groups* groups, std::mt19937_64* rng,
                          std::vector<int64_t>* train, std::vector<std::string>* notes, TaskData* t) {
  std::vector<int64_t> stored_train, unsplit;
  int64_t ignored_test = 0;
  for (int64_t i = 0; i < in.n1; ++i) {
    const std::string& s = in.stored_splits[i];
    if (s == "train") stored_train.push_back(i);
    else if (s == "val") t->val.push_back(i);
    else if (s == "test" && external) ++ignored_test;
    else if (s == "test") t->test.push_back(i);
    else unsplit.push_back(i);
  }
  if (stored_train.empty() && t->val.empty() && t->test.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "EvalData.split = stored but EvalData.dataset ('", in.dataset_name, "') stores no splits (re-pack it with this "
        "version's packer, which records split folders, official lists or a split column; or use split: random)"));
  }
  if (!external && t->test.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("EvalData.split = stored but EvalData.dataset has no test images; "
                                                   "give EvalData.test_dataset or use split: random"));
  }
  if (t->val.empty()) {
    std::vector<int64_t> carved_train;
    FillByGroups(stored_train, groups, {1.0 - DecimalValue(d.val_fraction()), 1.0}, rng, {&carved_train, &t->val});
    stored_train = carved_train;
    notes->push_back(absl::StrCat("no stored val split: ", t->val.size(), " val images carved from train"));
  }
  *train = stored_train;
  if (!unsplit.empty()) notes->push_back(absl::StrCat(unsplit.size(), " images without a stored split left out"));
  if (ignored_test > 0) {
    notes->push_back(absl::StrCat(ignored_test, " stored test images of EvalData.dataset unused (the test set is "
                                  "EvalData.test_dataset)"));
  }
  return absl::OkStatus();
}

// k examples per class (and k negatives for a binary task), or the label
// fraction of train.
void SubsetTrain(const EvalData& d, const std::vector<int64_t>& train, bool has_labels, TaskData* t) {
  if (d.shots() > 0 && has_labels) {
    for (int64_t k = 0; k < t->c; ++k) {
      int taken = 0;
      for (int64_t i : train) {
        if (taken < d.shots() && t->targets[i * t->c + k] > 0.5) t->train.push_back(i), ++taken;
      }
    }
    if (t->c == 1) {
      int taken = 0;
      for (int64_t i : train) {
        if (taken < d.shots() && t->targets[i] < 0.5) t->train.push_back(i), ++taken;
      }
    }
    std::sort(t->train.begin(), t->train.end());
    t->train.erase(std::unique(t->train.begin(), t->train.end()), t->train.end());
  } else {
    t->train.assign(train.begin(),
                    train.begin() + std::max<int64_t>(1, static_cast<int64_t>(DecimalValue(d.label_fraction()) * train.size())));
  }
}

}  // namespace

absl::Status SplitTask(const EvalData& d, const SplitInputs& in, std::vector<std::string>* notes, TaskData* t) {
  const bool external = t->external_test;
  const int max_distance = d.duplicate_max_distance();
  Groups groups(t->n);
  GroupImages(in, max_distance, &groups);
  t->patient_level = std::any_of(in.patients.begin(), in.patients.end(), [](const std::string& p) { return !p.empty(); });
  const double ftrain = DecimalValue(d.train_fraction()), fval = DecimalValue(d.val_fraction());
  std::mt19937_64 rng(d.seed() * 7919 + 17);
  std::vector<int64_t> train;
  std::vector<int64_t> all_primary(in.n1);
  std::iota(all_primary.begin(), all_primary.end(), 0);
  if (d.split() == "random") {
    if (external) {
      FillByGroups(all_primary, &groups, {ftrain / (ftrain + fval), 1.0}, &rng, {&train, &t->val});
    } else {
      FillByGroups(all_primary, &groups, {ftrain, ftrain + fval, 1.0}, &rng, {&train, &t->val, &t->test});
    }
  } else {
    RETURN_IF_ERROR(StoredSplits(d, in, external, &groups, &rng, &train, notes, t));
  }
  if (external) {
    for (int64_t i = in.n1; i < t->n; ++i) t->test.push_back(i);
  }
  if (!in.left_out.empty()) {
    for (auto* part : {&train, &t->val, &t->test}) {
      part->erase(std::remove_if(part->begin(), part->end(), [&](int64_t i) { return in.left_out.count(i) > 0; }),
                  part->end());
    }
    notes->push_back(in.left_out_note);
  }
  // Leakage guard (by construction for random splits of one dataset).
  if (d.split() == "stored" || external) {
    std::vector<std::string> crcs;  // equal-pixel keys; "" for the test dataset's images
    for (int64_t i = 0; i < t->n; ++i) crcs.push_back(i < in.n1 ? absl::StrCat(in.crcs[i]) : "");
    RETURN_IF_ERROR(GuardLeakage(d, train, in.patients, crcs, in.signatures, max_distance, t));
    if (!t->overlap.empty()) notes->push_back(t->overlap);
  }
  SubsetTrain(d, train, !t->class_names.empty(), t);
  if (t->train.empty() || t->val.empty() || t->test.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("EvalData: an empty split (train ", t->train.size(), " / val ",
                                                   t->val.size(), " / test ", t->test.size(), ")"));
  }
  return absl::OkStatus();
}

}  // namespace chexworld
