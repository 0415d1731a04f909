#include "chexworld/eval/eval_data.h"

#include <charconv>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "chexworld/core/status_macros.h"
#include "chexworld/eval/near_duplicates.h"
#include "chexworld/eval/shifts.h"

namespace chexworld {
namespace {

bool OneOf(const std::string& value, std::initializer_list<const char*> allowed) {
  for (const char* a : allowed)
    if (value == a) return true;
  return false;
}

absl::Status Check(const EvalData& d) {
  if (!d.has_dataset()) return absl::InvalidArgumentError("EvalData.dataset is required");
  if (!OneOf(d.split(), {"random", "stored"})) {
    return absl::InvalidArgumentError(absl::StrCat("EvalData.split '", d.split(), "' is not random or stored"));
  }
  if (!OneOf(d.label_space(), {"as_packed", "canonical"})) {
    return absl::InvalidArgumentError(absl::StrCat("EvalData.label_space '", d.label_space(), "' is not as_packed or canonical"));
  }
  if (!OneOf(d.task(), {"auto", "multilabel", "multiclass", "binary"})) {
    return absl::InvalidArgumentError(absl::StrCat("EvalData.task '", d.task(), "' is not auto, multilabel, multiclass or binary"));
  }
  if (!OneOf(d.normalization(), {"imagenet", "xray", "inception"})) {
    return absl::InvalidArgumentError(absl::StrCat("EvalData.normalization '", d.normalization(),
                                                   "' is not imagenet, xray or inception"));
  }
  if (!OneOf(d.feature_precision(), {"float32", "float16"})) {
    return absl::InvalidArgumentError(absl::StrCat("EvalData.feature_precision '", d.feature_precision(),
                                                   "' is not float32 or float16"));
  }
  if (d.allow_overlap() && d.drop_overlap()) {
    return absl::InvalidArgumentError("EvalData: set allow_overlap or drop_overlap, not both");
  }
  RETURN_IF_ERROR(ExpandShifts(d).status());
  // With an external test set, train and val share the whole of `dataset`.
  if (d.train_fraction() < 0 || d.val_fraction() < 0 ||
      d.train_fraction() + d.val_fraction() > (d.has_test_dataset() ? 1.0 : 0.9999)) {
    return absl::InvalidArgumentError(d.has_test_dataset() ? "EvalData: need train_fraction + val_fraction <= 1"
                                                           : "EvalData: need train_fraction + val_fraction < 1 "
                                                             "(the rest is the test split)");
  }
  if (d.label_fraction() <= 0 || d.label_fraction() > 1) {
    return absl::InvalidArgumentError("EvalData.label_fraction must be in (0, 1]");
  }
  if (d.shots() < 0) return absl::InvalidArgumentError("EvalData.shots must be >= 0");
  if (d.bootstrap() < 1) return absl::InvalidArgumentError("EvalData.bootstrap must be >= 1");
  if (d.num_workers() < -1) return absl::InvalidArgumentError("EvalData.num_workers must be >= -1");
  if (d.image_size() < 0) return absl::InvalidArgumentError("EvalData.image_size must be >= 0");
  return absl::OkStatus();
}

}  // namespace

double DecimalValue(float value) {
  char text[32];
  const auto end = std::to_chars(text, text + sizeof(text) - 1, value).ptr;  // shortest round trip
  *end = '\0';
  return std::strtod(text, nullptr);
}

absl::Status ResolveEvalData(EvalData* d) {
  if (d->task().empty()) d->set_task("auto");
  if (d->split().empty()) d->set_split("random");
  if (d->label_space().empty()) d->set_label_space("as_packed");
  if (d->normalization().empty()) d->set_normalization("imagenet");
  if (d->train_fraction() == 0) d->set_train_fraction(0.6f);
  if (d->val_fraction() == 0) d->set_val_fraction(0.2f);
  if (d->label_fraction() == 0) d->set_label_fraction(1.0f);
  if (d->bootstrap() == 0) d->set_bootstrap(1000);
  if (d->duplicate_max_distance() == 0) d->set_duplicate_max_distance(kDefaultNearDuplicateDistance);
  if (d->num_workers() == 0) d->set_num_workers(4);
  if (d->feature_precision().empty()) d->set_feature_precision("float32");
  if (d->feature_cache().empty()) d->set_feature_cache("run");
  for (AppearanceShift& shift : *d->mutable_shifts()) {  // the kind's default strengths, spelled out
    if (shift.strengths_size() > 0) continue;
    EvalData one;
    *one.add_shifts() = shift;
    auto levels = ExpandShifts(one);
    if (!levels.ok()) break;  // Check names it
    for (const ShiftLevel& level : *levels) shift.add_strengths(level.strength);
  }
  return Check(*d);
}

}  // namespace chexworld
