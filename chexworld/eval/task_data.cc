#include "chexworld/eval/task_data.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "chexworld/core/status_macros.h"
#include "chexworld/data/dataset.h"
#include "chexworld/data/label_space.h"
#include "chexworld/data/prefetch.h"
#include "chexworld/eval/eval_data.h"
#include "chexworld/eval/near_duplicates.h"
#include "chexworld/eval/task_splits.h"

namespace chexworld {
namespace {

const double kNaN = std::nan("");

// One dataset's images, as the task sees them: everything but the pixels.
struct Source {
  std::string field;  // "EvalData.dataset" / "EvalData.test_dataset"
  std::string name;   // the dataset component's name
  std::shared_ptr<const Dataset> dataset;
  std::vector<std::string> label_names, mask_names;
  std::vector<std::vector<float>> labels;
  std::vector<std::string> patients, splits, ids;
  std::vector<uint32_t> crcs;
  std::vector<ImageSignature> signatures;  // of the image at the input size
  int64_t size() const { return static_cast<int64_t>(ids.size()); }
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

absl::StatusOr<Source> OpenSource(const ComponentSpec& spec, const std::string& field, bool with_masks) {
  auto ds = CreateDataset(spec);
  if (!ds.ok()) return AddContext(ds.status(), field);
  Source s;
  s.field = field;
  s.name = DisplayName(spec);
  s.dataset = *ds;
  s.label_names = (*ds)->label_names();
  if (!with_masks && s.label_names.empty()) return absl::InvalidArgumentError(absl::StrCat(field, " has no labels"));
  if (with_masks) {
    s.mask_names = (*ds)->mask_names();
    if (s.mask_names.empty()) return absl::InvalidArgumentError(absl::StrCat(field, " has no masks"));
  }
  return s;
}

// What one image contributes to the task, made on a loader worker.
struct Scanned {
  std::vector<float> labels;
  std::vector<std::string> label_names;  // canonical names (first image)
  std::string patient, split, id;
  uint32_t crc = 0;
  ImageSignature signature;
  GrayImage image;  // kept when preloading
  std::vector<uint8_t> masks;
};

// One streamed pass over `s`'s images, chunk by chunk through the loader's
// reader and workers: labels, ids, splits and signatures; pixels only for
// `keep` (EvalData.preload).
absl::Status ScanSource(const ComponentSpec& spec, bool canonical, bool with_masks, const TaskImages::Source& columns,
                        int image_size, int workers, TaskImages* keep, Source* s) {
  constexpr int64_t kChunk = 64;
  const int64_t n = s->dataset->size();
  const int h = s->dataset->image_height(), w = s->dataset->image_width();
  using Chunk = std::vector<ShardSample>;
  OrderedPrefetcher<Chunk, std::vector<Scanned>> pass(
      [&](int64_t c) -> absl::StatusOr<Chunk> {
        Chunk chunk(std::min(kChunk, n - c * kChunk));
        for (size_t k = 0; k < chunk.size(); ++k) {
          const int64_t i = c * kChunk + static_cast<int64_t>(k);
          RETURN_IF_ERROR_CTX(s->dataset->Read(i, &chunk[k]), s->field, " image ", i);
        }
        return chunk;
      },
      [&](int64_t, Chunk&& chunk) -> absl::StatusOr<std::vector<Scanned>> {
        std::vector<Scanned> out(chunk.size());
        for (size_t k = 0; k < chunk.size(); ++k) {
          ShardSample& smp = chunk[k];
          Scanned& o = out[k];
          GrayImage image = TaskImages::Resized(smp.image, image_size);
          o.signature = SignatureOf(image);
          if (keep != nullptr) {
            if (keep->with_masks()) o.masks = TaskImages::ResizedMasks(smp, h, w, columns.mask_columns, image_size);
            o.image = std::move(image);
          }
          if (canonical) {
            ToCanonical(s->label_names, smp.labels, &o.label_names, &o.labels);
          } else {
            o.labels = std::move(smp.labels);
          }
          o.patient = std::move(smp.patient_id);
          o.split = std::move(smp.split);
          o.id = absl::StrCat(spec.name(), ":", smp.id);
          o.crc = smp.crc32;
        }
        return out;
      },
      std::max(0, workers), 2 * std::max(1, workers) + 2);
  const int64_t chunks = (n + kChunk - 1) / kChunk;
  pass.Start(0, chunks);
  std::vector<std::string> canonical_names;
  for (int64_t c = 0; c < chunks; ++c) {
    ASSIGN_OR_RETURN(std::vector<Scanned> part, pass.Next());
    for (Scanned& o : part) {
      if (canonical && s->ids.empty()) canonical_names = o.label_names;
      s->labels.push_back(std::move(o.labels));
      s->patients.push_back(std::move(o.patient));
      s->splits.push_back(std::move(o.split));
      s->ids.push_back(std::move(o.id));
      s->crcs.push_back(o.crc);
      s->signatures.push_back(o.signature);
      if (keep != nullptr) keep->Keep(std::move(o.image), std::move(o.masks));
    }
  }
  if (canonical) {
    const std::vector<std::string> packed = s->label_names;
    s->label_names = canonical_names;
    if (!with_masks && s->label_names.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(s->field, ": none of its labels (", absl::StrJoin(packed, ", "),
                                                     ") is a canonical pathology (label_space: canonical)"));
    }
  }
  return absl::OkStatus();
}

int Column(const std::vector<std::string>& names, const std::string& name) {
  auto it = std::find(names.begin(), names.end(), name);
  return it == names.end() ? -1 : static_cast<int>(it - names.begin());
}


// The classes of the task: EvalData.classes or the dataset's labels, less
// those an external test set lacks (said in `notes`).
absl::StatusOr<std::vector<std::string>> SelectClasses(const EvalData& d, const Source& primary, const Source* other,
                                                       bool canonical, std::vector<std::string>* notes) {
  std::vector<std::string> classes;
  for (const auto& c : d.classes()) {
    if (Column(primary.label_names, c) < 0) {
      return absl::InvalidArgumentError(absl::StrCat("EvalData.classes: '", c, "' is not a label of EvalData.dataset (",
                                                     absl::StrJoin(primary.label_names, ", "), ")"));
    }
    classes.push_back(c);
  }
  if (classes.empty()) classes = primary.label_names;
  if (other == nullptr || primary.label_names.empty()) return classes;
  // A test class training never saw cannot be scored: refuse it by name.
  for (const auto& c : other->label_names) {
    if (Column(primary.label_names, c) < 0 && (d.classes_size() == 0 || Column(classes, c) >= 0) && !canonical) {
      return absl::InvalidArgumentError(absl::StrCat(
          "EvalData.test_dataset: class '", c, "' is unknown to training (EvalData.dataset has ",
          absl::StrJoin(primary.label_names, ", "), "); restrict with EvalData.classes or label_space: canonical"));
    }
  }
  std::vector<std::string> kept, dropped;
  for (const auto& c : classes) (Column(other->label_names, c) >= 0 ? kept : dropped).push_back(c);
  if (kept.empty() && d.positive_labels_size() == 0) {
    return absl::InvalidArgumentError(absl::StrCat("EvalData: the training classes (", absl::StrJoin(classes, ", "),
                                                   ") and the test classes (", absl::StrJoin(other->label_names, ", "),
                                                   ") share none"));
  }
  if (!dropped.empty() && d.positive_labels_size() == 0) {
    notes->push_back(absl::StrCat("classes not in the test set, left out: ", absl::StrJoin(dropped, ", ")));
    classes = kept;
  }
  return classes;
}

// Row i's labels and their names, over both sources.
struct Rows {
  const Source& primary;
  const Source& other;
  const std::vector<float>& labels(int64_t i) const {
    return i < primary.size() ? primary.labels[i] : other.labels[i - primary.size()];
  }
  const std::vector<std::string>& names(int64_t i) const {
    return i < primary.size() ? primary.label_names : other.label_names;
  }
  // Row i's value of `name` (NaN where its dataset lacks it).
  float value(int64_t i, const std::string& name) const {
    const int col = Column(names(i), name);
    return col < 0 ? std::nanf("") : labels(i)[col];
  }
};

// With EvalData.classes, a multi-class or binary task keeps only the images
// of those classes: the others are left out and the description says how many.
void LeaveOutOtherClasses(const EvalData& d, const std::vector<std::string>& classes, const Rows& rows, int64_t n,
                          SplitInputs* in) {
  const bool binary = d.task() == "binary" || d.positive_labels_size() > 0;
  if (d.classes_size() == 0 || (d.task() != "multiclass" && !binary)) return;
  for (int64_t i = 0; i < n; ++i) {
    bool known = true, any = false;
    for (const auto& c : classes) {
      const float v = rows.value(i, c);
      known &= !std::isnan(v);
      any |= v > 0.5f;
    }
    if (known && !any) in->left_out.insert(i);
  }
  if (!in->left_out.empty()) {
    in->left_out_note = absl::StrCat(in->left_out.size(), " images of none of the selected classes (",
                                     absl::StrJoin(classes, ", "), ") left out");
  }
}

// Binary targets: positive when any of EvalData.positive_labels [the first
// class] is; unknown when none is positive and one is unknown.
absl::Status BinaryTargets(const EvalData& d, const std::vector<std::string>& classes, const Source& primary,
                           const Source* other, const Rows& rows, TaskData* t) {
  std::vector<std::string> pos(d.positive_labels().begin(), d.positive_labels().end());
  if (pos.empty()) pos.push_back(classes.empty() ? primary.label_names[0] : classes[0]);
  for (const auto& l : pos) {
    if (Column(primary.label_names, l) < 0) {
      return absl::InvalidArgumentError(absl::StrCat("EvalData.positive_labels: '", l, "' is not a label of the dataset (",
                                                     absl::StrJoin(primary.label_names, ", "), ")"));
    }
    if (d.classes_size() > 0 && Column(classes, l) < 0) {
      return absl::InvalidArgumentError(absl::StrCat("EvalData.positive_labels: '", l, "' is not one of EvalData.classes (",
                                                     absl::StrJoin(classes, ", "), ")"));
    }
  }
  if (other != nullptr &&
      std::none_of(pos.begin(), pos.end(), [&](const std::string& l) { return Column(other->label_names, l) >= 0; })) {
    return absl::InvalidArgumentError(absl::StrCat("EvalData.test_dataset has none of the positive labels (",
                                                   absl::StrJoin(pos, ", "), ")"));
  }
  t->c = 1;
  t->class_names = {absl::StrJoin(pos, "+")};
  for (int64_t i = 0; i < t->n; ++i) {
    double y = 0;
    bool unknown = false;
    for (const auto& l : pos) {
      const int col = Column(rows.names(i), l);
      if (col < 0) continue;
      const float v = rows.labels(i)[col];
      if (std::isnan(v)) unknown = true;
      else if (v > 0.5f) y = 1;
    }
    t->targets.push_back(y == 0 && unknown ? kNaN : y);
  }
  return absl::OkStatus();
}

// Multi-class or multi-label targets over `classes`.
absl::Status ClassTargets(const EvalData& d, const std::vector<std::string>& classes, const Rows& rows,
                          const std::set<int64_t>& left_out, TaskData* t) {
  t->c = static_cast<int64_t>(classes.size());
  t->class_names = classes;
  int64_t not_one_hot = 0;
  for (int64_t i = 0; i < t->n; ++i) {
    int ones = 0;
    bool known = true;
    for (const auto& c : classes) {
      const float v = rows.value(i, c);
      ones += v > 0.5f;
      known &= !std::isnan(v);
      t->targets.push_back(v);
    }
    if (left_out.count(i) == 0) not_one_hot += !(known && ones == 1);
  }
  if (d.task() == "multiclass" && not_one_hot > 0) {
    return absl::InvalidArgumentError(absl::StrCat("EvalData.task = multiclass but ", not_one_hot,
                                                   " rows do not have exactly one label of ",
                                                   absl::StrJoin(classes, ", ")));
  }
  t->multiclass = d.task() == "multiclass" || (d.task() == "auto" && not_one_hot == 0);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<TaskData> LoadTaskData(const EvalData& unresolved, int image_size, bool with_masks) {
  EvalData d = unresolved;
  RETURN_IF_ERROR(ResolveEvalData(&d));
  const bool canonical = d.label_space() == "canonical";
  const bool external = d.has_test_dataset();
  ASSIGN_OR_RETURN(Source primary, OpenSource(d.dataset(), "EvalData.dataset", with_masks));
  Source other;
  if (external) {
    ASSIGN_OR_RETURN(other, OpenSource(d.test_dataset(), "EvalData.test_dataset", with_masks));
  }
  // Each source's masks in the first dataset's order.
  std::vector<TaskImages::Source> sources = {{primary.dataset, primary.field, {}}};
  for (size_t k = 0; k < primary.mask_names.size(); ++k) sources[0].mask_columns.push_back(static_cast<int>(k));
  if (external) {
    sources.push_back({other.dataset, other.field, {}});
    for (const auto& m : primary.mask_names) {
      const int col = Column(other.mask_names, m);
      if (col < 0) {
        return absl::InvalidArgumentError(absl::StrCat("EvalData.test_dataset has no mask '", m, "' (it has ",
                                                       absl::StrJoin(other.mask_names, ", "), ")"));
      }
      sources[1].mask_columns.push_back(col);
    }
  }
  auto images = std::make_shared<TaskImages>(sources, image_size, with_masks);
  TaskImages* keep = d.preload() ? images.get() : nullptr;
  const int workers = std::max(0, d.num_workers());
  RETURN_IF_ERROR(ScanSource(d.dataset(), canonical, with_masks, sources[0], image_size, workers, keep, &primary));
  if (external) {
    RETURN_IF_ERROR(ScanSource(d.test_dataset(), canonical, with_masks, sources[1], image_size, workers, keep, &other));
  }

  TaskData t;
  t.images = images;
  t.image_size = image_size;
  t.num_workers = d.num_workers() < 0 ? 0 : d.num_workers();
  t.mask_names = primary.mask_names;
  t.external_test = external;
  const int64_t n1 = primary.size(), n2 = other.size();
  t.n = n1 + n2;
  t.ids = primary.ids;
  t.ids.insert(t.ids.end(), other.ids.begin(), other.ids.end());
  std::vector<std::string> notes;
  const bool has_labels = !primary.label_names.empty();
  ASSIGN_OR_RETURN(std::vector<std::string> classes,
                   SelectClasses(d, primary, external ? &other : nullptr, canonical, &notes));
  const Rows rows{primary, other};
  SplitInputs in;
  if (has_labels) LeaveOutOtherClasses(d, classes, rows, t.n, &in);
  if (has_labels && (d.task() == "binary" || d.positive_labels_size() > 0)) {
    RETURN_IF_ERROR(BinaryTargets(d, classes, primary, external ? &other : nullptr, rows, &t));
  } else if (has_labels) {
    RETURN_IF_ERROR(ClassTargets(d, classes, rows, in.left_out, &t));
  }

  in.n1 = n1;
  in.dataset_name = primary.name;
  in.patients = std::move(primary.patients);
  in.patients.insert(in.patients.end(), other.patients.begin(), other.patients.end());
  in.crcs = std::move(primary.crcs);
  in.stored_splits = std::move(primary.splits);
  in.signatures = std::move(primary.signatures);
  in.signatures.insert(in.signatures.end(), other.signatures.begin(), other.signatures.end());
  RETURN_IF_ERROR(SplitTask(d, in, &notes, &t));

  const std::string kind = !has_labels ? "masks only" : t.multiclass ? "multi-class" : t.c == 1 ? "binary" : "multi-label";
  t.description = absl::StrCat(
      n1, " images of ", primary.name, external ? absl::StrCat(", test: ", n2, " images of ", other.name) : "",
      "; ", d.split(), " split", t.patient_level ? " (patient-level)" : "", ", ", kind,
      has_labels ? " over " + absl::StrJoin(t.class_names, ", ") : "", canonical ? " (canonical labels)" : "", "; train ",
      t.train.size(), " / val ", t.val.size(), " / test ", t.test.size(), " (seed ", d.seed(), ")",
      notes.empty() ? "" : "; " + absl::StrJoin(notes, "; "));
  return t;
}

}  // namespace chexworld
