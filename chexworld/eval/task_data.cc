#include "chexworld/eval/task_data.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <random>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "chexworld/core/status_macros.h"
#include "chexworld/data/dataset.h"
#include "chexworld/data/label_space.h"
#include "chexworld/data/resize.h"
#include "chexworld/eval/leakage.h"
#include "chexworld/eval/near_duplicates.h"

namespace chexworld {
namespace {

const double kNaN = std::nan("");

// One dataset's images, as the task sees them.
struct Source {
  std::string field;  // "EvalData.dataset" / "EvalData.test_dataset"
  std::string name;   // the dataset component's name
  std::vector<std::string> label_names;
  std::vector<std::vector<float>> labels;
  std::vector<std::string> patients, splits, ids;
  std::vector<uint32_t> crcs;
  std::vector<GrayImage> images;
  std::vector<std::vector<uint8_t>> masks;
  std::vector<std::string> mask_names;
  int64_t size() const { return static_cast<int64_t>(images.size()); }
};

// "phantom", or a shard set's folder ("nih_224" for data/nih_224/manifest.textproto).
std::string DisplayName(const ComponentSpec& spec) {
  auto info = ComponentCatalog::Global().Find(kDatasetKind, spec.name());
  if (!info.ok()) return spec.name();
  auto options = UnpackOptions(**info, spec);
  if (!options.ok()) return spec.name();
  const auto* f = (*options)->GetDescriptor()->FindFieldByName("manifest");
  if (f == nullptr || f->type() != google::protobuf::FieldDescriptor::TYPE_STRING) return spec.name();
  std::string m = (*options)->GetReflection()->GetString(**options, f);
  m = m.substr(0, m.find_last_of('/'));
  return m.substr(m.find_last_of('/') + 1);
}

absl::StatusOr<Source> LoadSource(const ComponentSpec& spec, const std::string& field, int image_size,
                                  bool with_masks, bool canonical) {
  auto ds = CreateDataset(spec);
  if (!ds.ok()) return AddContext(ds.status(), field);
  Source s;
  s.field = field;
  s.name = DisplayName(spec);
  const std::vector<std::string>& names = (*ds)->label_names();
  if (!with_masks && names.empty()) return absl::InvalidArgumentError(absl::StrCat(field, " has no labels"));
  if (with_masks) {
    s.mask_names = (*ds)->mask_names();
    if (s.mask_names.empty()) return absl::InvalidArgumentError(absl::StrCat(field, " has no masks"));
  }
  const int64_t n = (*ds)->size();
  const int h = (*ds)->image_height(), w = (*ds)->image_width();
  for (int64_t i = 0; i < n; ++i) {
    ShardSample smp;
    RETURN_IF_ERROR_CTX((*ds)->Read(i, &smp), field);
    s.images.push_back((smp.image.height == image_size && smp.image.width == image_size)
                           ? std::move(smp.image)
                           : Resize(smp.image, image_size, image_size));
    if (canonical) {
      std::vector<std::string> mapped;
      std::vector<float> values;
      ToCanonical(names, smp.labels, &mapped, &values);
      if (i == 0) s.label_names = mapped;
      s.labels.push_back(std::move(values));
    } else {
      s.labels.push_back(std::move(smp.labels));
    }
    s.patients.push_back(smp.patient_id);
    s.splits.push_back(smp.split);
    s.ids.push_back(absl::StrCat(spec.name(), ":", smp.id));
    s.crcs.push_back(smp.crc32);
    if (with_masks) {
      std::vector<uint8_t> out;
      for (size_t k = 0; k < s.mask_names.size(); ++k) {
        GrayImage mk(h, w);
        for (int p = 0; p < h * w; ++p) mk.pixels[p] = smp.masks[k * static_cast<size_t>(h) * w + p];
        GrayImage r = (h == image_size && w == image_size) ? mk : Resize(mk, image_size, image_size);
        for (float v : r.pixels) out.push_back(v >= 0.5f ? 1 : 0);
      }
      s.masks.push_back(std::move(out));
    }
  }
  if (!canonical) s.label_names = names;
  if (canonical && !with_masks && s.label_names.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": none of its labels (", absl::StrJoin(names, ", "),
                                                   ") is a canonical pathology (label_space: canonical)"));
  }
  return s;
}

int Column(const std::vector<std::string>& names, const std::string& name) {
  auto it = std::find(names.begin(), names.end(), name);
  return it == names.end() ? -1 : static_cast<int>(it - names.begin());
}

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

}  // namespace

absl::StatusOr<TaskData> LoadTaskData(const EvalData& d, int image_size, bool with_masks) {
  const std::string space = d.label_space().empty() ? "as_packed" : d.label_space();
  const bool canonical = space == "canonical";
  ASSIGN_OR_RETURN(Source primary, LoadSource(d.dataset(), "EvalData.dataset", image_size, with_masks, canonical));
  const bool external = d.has_test_dataset();
  Source other;
  if (external) {
    ASSIGN_OR_RETURN(other, LoadSource(d.test_dataset(), "EvalData.test_dataset", image_size, with_masks, canonical));
  }
  TaskData t;
  t.external_test = external;
  const int64_t n1 = primary.size(), n2 = other.size();
  t.n = n1 + n2;
  std::vector<std::string> notes;

  // ---- classes
  const bool has_labels = !primary.label_names.empty();
  std::vector<std::string> classes;
  if (d.classes_size() > 0) {
    for (const auto& c : d.classes()) {
      if (Column(primary.label_names, c) < 0) {
        return absl::InvalidArgumentError(absl::StrCat("EvalData.classes: '", c, "' is not a label of EvalData.dataset (",
                                                       absl::StrJoin(primary.label_names, ", "), ")"));
      }
      classes.push_back(c);
    }
  } else {
    classes = primary.label_names;
  }
  if (external && has_labels) {
    // A test class training never saw cannot be scored: refuse it by name.
    for (const auto& c : other.label_names) {
      if (Column(primary.label_names, c) < 0 && (d.classes_size() == 0 || Column(classes, c) >= 0) && !canonical) {
        return absl::InvalidArgumentError(absl::StrCat(
            "EvalData.test_dataset: class '", c, "' is unknown to training (EvalData.dataset has ",
            absl::StrJoin(primary.label_names, ", "), "); restrict with EvalData.classes or label_space: canonical"));
      }
    }
    std::vector<std::string> kept, dropped;
    for (const auto& c : classes) (Column(other.label_names, c) >= 0 ? kept : dropped).push_back(c);
    if (kept.empty() && d.positive_labels_size() == 0) {
      return absl::InvalidArgumentError(absl::StrCat("EvalData: the training classes (", absl::StrJoin(classes, ", "),
                                                     ") and the test classes (", absl::StrJoin(other.label_names, ", "),
                                                     ") share none"));
    }
    if (!dropped.empty() && d.positive_labels_size() == 0) {
      notes.push_back(absl::StrCat("classes not in the test set, left out: ", absl::StrJoin(dropped, ", ")));
      classes = kept;
    }
  }

  // ---- targets
  const std::string task = d.task().empty() ? "auto" : d.task();
  std::set<int64_t> other_classes;  // images of none of the selected classes (multiclass)
  auto row = [&](int64_t i) -> const std::vector<float>& { return i < n1 ? primary.labels[i] : other.labels[i - n1]; };
  auto names_of = [&](int64_t i) -> const std::vector<std::string>& {
    return i < n1 ? primary.label_names : other.label_names;
  };
  if (has_labels && (task == "binary" || d.positive_labels_size() > 0)) {
    std::vector<std::string> pos(d.positive_labels().begin(), d.positive_labels().end());
    if (pos.empty()) pos.push_back(classes.empty() ? primary.label_names[0] : classes[0]);
    for (const auto& l : pos) {
      if (Column(primary.label_names, l) < 0) {
        return absl::InvalidArgumentError(absl::StrCat("EvalData.positive_labels: '", l, "' is not a label of the dataset (",
                                                       absl::StrJoin(primary.label_names, ", "), ")"));
      }
    }
    if (external && std::none_of(pos.begin(), pos.end(), [&](const std::string& l) { return Column(other.label_names, l) >= 0; })) {
      return absl::InvalidArgumentError(absl::StrCat("EvalData.test_dataset has none of the positive labels (",
                                                     absl::StrJoin(pos, ", "), ")"));
    }
    t.c = 1;
    t.class_names = {absl::StrJoin(pos, "+")};
    for (int64_t i = 0; i < t.n; ++i) {
      double y = 0;
      bool unknown = false;
      for (const auto& l : pos) {
        const int col = Column(names_of(i), l);
        if (col < 0) continue;
        const float v = row(i)[col];
        if (std::isnan(v)) unknown = true;
        else if (v > 0.5f) y = 1;
      }
      t.targets.push_back(y == 0 && unknown ? kNaN : y);
    }
  } else if (has_labels) {
    t.c = static_cast<int64_t>(classes.size());
    t.class_names = classes;
    bool one_hot = true;
    // A multi-class task over selected classes keeps only their images.
    const bool select = task == "multiclass" && d.classes_size() > 0;
    int64_t not_one_hot = 0;
    for (int64_t i = 0; i < t.n; ++i) {
      int ones = 0;
      bool known = true;
      for (const auto& c : classes) {
        const int col = Column(names_of(i), c);
        const float v = col < 0 ? std::nanf("") : row(i)[col];
        ones += v > 0.5f;
        known &= !std::isnan(v);
        t.targets.push_back(v);
      }
      if (select && known && ones == 0) {
        other_classes.insert(i);
        continue;
      }
      const bool row_one_hot = known && ones == 1;
      not_one_hot += !row_one_hot;
      one_hot &= row_one_hot;
    }
    if (task == "multiclass" && !one_hot) {
      return absl::InvalidArgumentError(absl::StrCat("EvalData.task = multiclass but ", not_one_hot,
                                                     " rows do not have exactly one label of ",
                                                     absl::StrJoin(classes, ", ")));
    }
    t.multiclass = task == "multiclass" || (task == "auto" && one_hot);
  }

  // ---- images, masks, ids
  t.images = std::move(primary.images);
  for (auto& im : other.images) t.images.push_back(std::move(im));
  t.ids = primary.ids;
  t.ids.insert(t.ids.end(), other.ids.begin(), other.ids.end());
  if (with_masks) {
    t.mask_names = primary.mask_names;
    t.masks = std::move(primary.masks);
    for (int64_t i = 0; i < n2; ++i) {
      std::vector<uint8_t> remapped;
      const size_t plane = static_cast<size_t>(image_size) * image_size;
      for (const auto& m : t.mask_names) {
        const int col = Column(other.mask_names, m);
        if (col < 0) {
          return absl::InvalidArgumentError(absl::StrCat("EvalData.test_dataset has no mask '", m, "' (it has ",
                                                         absl::StrJoin(other.mask_names, ", "), ")"));
        }
        remapped.insert(remapped.end(), other.masks[i].begin() + col * plane, other.masks[i].begin() + (col + 1) * plane);
      }
      t.masks.push_back(std::move(remapped));
    }
  }

  // ---- splits
  std::vector<std::string> patients = primary.patients;
  patients.insert(patients.end(), other.patients.begin(), other.patients.end());
  std::vector<ImageSignature> signatures;
  for (const auto& im : t.images) signatures.push_back(SignatureOf(im));
  const int max_distance = d.duplicate_max_distance() == 0 ? kDefaultNearDuplicateDistance : d.duplicate_max_distance();
  Groups groups(t.n);
  {
    // Patients, equal pixels and near-duplicate images travel together.
    std::map<std::string, int64_t> first;
    NearDuplicateIndex seen(max_distance);
    for (int64_t i = 0; i < n1; ++i) {
      for (const std::string& key : {patients[i].empty() ? std::string() : "p:" + patients[i],
                                     absl::StrCat("c:", primary.crcs[i])}) {
        if (key.empty()) continue;
        auto [it, inserted] = first.emplace(key, i);
        if (!inserted) groups.Join(i, it->second);
      }
      if (const auto match = seen.Nearest(signatures[i]); match.id >= 0) groups.Join(i, match.id);
      seen.Add(i, signatures[i]);
    }
  }
  t.patient_level = std::any_of(patients.begin(), patients.end(), [](const std::string& p) { return !p.empty(); });
  const std::string split = d.split().empty() ? "random" : d.split();
  const double ftrain = d.train_fraction() > 0 ? d.train_fraction() : 0.6;
  const double fval = d.val_fraction() > 0 ? d.val_fraction() : 0.2;
  if (ftrain + fval >= 1.0 && !external) return absl::InvalidArgumentError("EvalData: train_fraction + val_fraction must be < 1");
  std::mt19937_64 rng(d.seed() * 7919 + 17);
  std::vector<int64_t> train;
  std::vector<int64_t> all_primary(n1);
  std::iota(all_primary.begin(), all_primary.end(), 0);
  if (split == "random") {
    if (external) {
      FillByGroups(all_primary, &groups, {ftrain / (ftrain + fval), 1.0}, &rng, {&train, &t.val});  // cumulative
    } else {
      FillByGroups(all_primary, &groups, {ftrain, ftrain + fval, 1.0}, &rng, {&train, &t.val, &t.test});
    }
  } else if (split == "stored") {
    std::vector<int64_t> stored_train, unsplit;
    int64_t ignored_test = 0;
    for (int64_t i = 0; i < n1; ++i) {
      const std::string& s = primary.splits[i];
      if (s == "train") stored_train.push_back(i);
      else if (s == "val") t.val.push_back(i);
      else if (s == "test" && external) ++ignored_test;
      else if (s == "test") t.test.push_back(i);
      else unsplit.push_back(i);
    }
    if (stored_train.empty() && t.val.empty() && t.test.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "EvalData.split = stored but EvalData.dataset ('", primary.name, "') stores no splits (re-pack it with this "
          "version's packer, which records split folders, official lists or a split column; or use split: random)"));
    }
    if (!external && t.test.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("EvalData.split = stored but EvalData.dataset has no test images; "
                                                     "give EvalData.test_dataset or use split: random"));
    }
    if (t.val.empty()) {
      std::vector<int64_t> carved_train;
      FillByGroups(stored_train, &groups, {1.0 - fval, 1.0}, &rng, {&carved_train, &t.val});
      stored_train = carved_train;
      notes.push_back(absl::StrCat("no stored val split: ", t.val.size(), " val images carved from train"));
    }
    train = stored_train;
    if (!unsplit.empty()) notes.push_back(absl::StrCat(unsplit.size(), " images without a stored split left out"));
    if (ignored_test > 0) notes.push_back(absl::StrCat(ignored_test, " stored test images of EvalData.dataset unused (the test set is EvalData.test_dataset)"));
  } else {
    return absl::InvalidArgumentError(absl::StrCat("EvalData.split '", split, "' is not random or stored"));
  }
  if (external) {
    for (int64_t i = n1; i < t.n; ++i) t.test.push_back(i);
  }
  if (!other_classes.empty()) {
    for (auto* part : {&train, &t.val, &t.test}) {
      part->erase(std::remove_if(part->begin(), part->end(), [&](int64_t i) { return other_classes.count(i) > 0; }),
                  part->end());
    }
    notes.push_back(absl::StrCat(other_classes.size(), " images of none of the selected classes (",
                                 absl::StrJoin(classes, ", "), ") left out"));
  }

  // ---- leakage guard (by construction for random splits of one dataset)
  if (split == "stored" || external) {
    std::vector<std::string> crcs;  // equal-pixel keys; "" for the test dataset's images
    for (int64_t i = 0; i < t.n; ++i) crcs.push_back(i < n1 ? absl::StrCat(primary.crcs[i]) : "");
    RETURN_IF_ERROR(GuardLeakage(d, train, patients, crcs, signatures, max_distance, &t));
    if (!t.overlap.empty()) notes.push_back(t.overlap);
  }

  // ---- label fraction / k-shot subset of train
  if (d.shots() > 0 && has_labels) {
    for (int64_t k = 0; k < t.c; ++k) {
      int taken = 0;
      for (int64_t i : train) {
        if (taken < d.shots() && t.targets[i * t.c + k] > 0.5) t.train.push_back(i), ++taken;
      }
    }
    if (t.c == 1) {  // binary: k negatives too
      int taken = 0;
      for (int64_t i : train) {
        if (taken < d.shots() && t.targets[i] < 0.5) t.train.push_back(i), ++taken;
      }
    }
    std::sort(t.train.begin(), t.train.end());
    t.train.erase(std::unique(t.train.begin(), t.train.end()), t.train.end());
  } else {
    const double frac = d.label_fraction() > 0 ? d.label_fraction() : 1.0;
    t.train.assign(train.begin(), train.begin() + std::max<int64_t>(1, static_cast<int64_t>(frac * train.size())));
  }
  if (t.train.empty() || t.val.empty() || t.test.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("EvalData: an empty split (train ", t.train.size(), " / val ",
                                                   t.val.size(), " / test ", t.test.size(), ")"));
  }
  const std::string kind = !has_labels ? "masks only" : t.multiclass ? "multi-class" : t.c == 1 ? "binary" : "multi-label";
  t.description = absl::StrCat(
      n1, " images of ", primary.name, external ? absl::StrCat(", test: ", n2, " images of ", other.name) : "",
      "; ", split, " split", t.patient_level ? " (patient-level)" : "", ", ", kind,
      has_labels ? " over " + absl::StrJoin(t.class_names, ", ") : "", canonical ? " (canonical labels)" : "", "; train ",
      t.train.size(), " / val ", t.val.size(), " / test ", t.test.size(), " (seed ", d.seed(), ")",
      notes.empty() ? "" : "; " + absl::StrJoin(notes, "; "));
  return t;
}

}  // namespace chexworld
