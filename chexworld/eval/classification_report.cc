#include "chexworld/eval/classification_report.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "chexworld/core/paths.h"
#include "chexworld/core/status_macros.h"
#include "chexworld/eval/figure.h"
#include "chexworld/eval/metrics.h"
#include "chexworld/eval/test_scores.h"

namespace chexworld {
namespace {

constexpr uint64_t kBootstrapSeed = 12345;
constexpr size_t kTableName = 28, kPanelName = 24;

std::string Json(double v) { return std::isnan(v) ? "null" : absl::StrFormat("%.6g", v); }
std::string JsonString(const std::string& s) {
  std::string q = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') q += '\\';
    if (static_cast<unsigned char>(c) >= 0x20) q += c;
  }
  return q + "\"";
}
std::string JsonInterval(const Interval& i) {
  return absl::StrCat("{\"value\": ", Json(i.value), ", \"low\": ", Json(i.low), ", \"high\": ", Json(i.high), "}");
}
std::string Cell(const Interval& i) { return absl::StrFormat("%.3f [%.3f, %.3f]", i.value, i.low, i.high); }

struct EncoderResult {
  ClassificationMetrics all;
  Interval auroc, auprc, accuracy;
  PairedComparison paired;  // vs the first encoder (e > 0)
};

// ROC curves, one panel per class, every encoder in each.
std::string RocFigure(const TaskData& data, const std::vector<std::string>& names, const std::vector<double>& labels,
                      const std::vector<std::vector<double>>& scores, const std::vector<EncoderResult>& results,
                      const ClassCounts& counts) {
  const int64_t nt = static_cast<int64_t>(data.test.size()), c = data.c;
  Figure f;
  f.title = c > 1 ? "ROC curves on the test set, one panel per class (one vs rest)" : "ROC curve on the test set";
  f.columns = static_cast<int>(std::min<int64_t>(c, 4));
  f.panel_width = c > 1 ? 230 : 320;
  f.panel_height = c > 1 ? 210 : 280;
  f.caption = "Legend: encoder and its AUROC on all test images; dashed: chance.";
  std::vector<std::string> key;
  for (int64_t k = 0; k < c; ++k) {
    Axes& a = f.AddPanel(absl::StrCat(ShortClassName(data.class_names[k], kPanelName, &key), " (",
                                      counts.positives[k], "+ / ", counts.negatives[k], "\xE2\x88\x92)"),
                         "false-positive rate", "true-positive rate");
    a.xmin = 0, a.xmax = 1, a.ymin = 0, a.ymax = 1;
    a.legend = "lower right";
    a.references.push_back(ReferenceLine{0, 0, 1, 1, "chance"});
    for (size_t e = 0; e < names.size(); ++e) {
      std::vector<double> s, l;
      for (int64_t i = 0; i < nt; ++i) s.push_back(scores[e][i * c + k]), l.push_back(labels[i * c + k]);
      Series series{absl::StrFormat("%s %.3f", names[e], results[e].all.auroc[k])};
      for (const auto& [fpr, tpr] : RocCurve(s, l)) series.x.push_back(fpr), series.y.push_back(tpr);
      a.series.push_back(std::move(series));
    }
  }
  return RenderSvg(f);
}

std::string MainTable(const std::vector<std::string>& names, const std::vector<EncoderResult>& r) {
  std::string md = absl::StrCat("| encoder | mean AUROC [95% CI] | mean AUPRC [95% CI] | accuracy [95% CI] | vs ",
                                names[0], ": ΔAUROC [95% CI], P(not better) |\n|---|---|---|---|---|\n");
  for (size_t e = 0; e < names.size(); ++e) {
    const auto& p = r[e].paired;
    const std::string paired = e == 0 ? "—"
                                      : absl::StrFormat("%+.3f [%+.3f, %+.3f], %.3f", p.delta, p.delta_interval.low,
                                                        p.delta_interval.high, p.p_a_not_better);
    absl::StrAppend(&md, "| ", names[e], " | ", Cell(r[e].auroc), " | ", Cell(r[e].auprc), " | ", Cell(r[e].accuracy),
                    " | ", paired, " |\n");
  }
  return md;
}

// Per class: test positives / negatives, prevalence (the AUPRC of a random
// score), and every encoder's AUROC and AUPRC.
std::string ClassTable(const TaskData& data, const std::vector<std::string>& names,
                       const std::vector<EncoderResult>& r, const ClassCounts& counts) {
  std::string header = "| class | test positives | test negatives | prevalence |", rule = "|---|---|---|---|";
  for (const auto& n : names) absl::StrAppend(&header, " ", n, " AUROC |"), rule += "---|";
  for (const auto& n : names) absl::StrAppend(&header, " ", n, " AUPRC |"), rule += "---|";
  std::string md = absl::StrCat("\nPer class (test set; prevalence = positives / labelled = the AUPRC of a random score):\n\n",
                                header, "\n", rule, "\n");
  std::vector<std::string> key;
  for (int64_t k = 0; k < data.c; ++k) {
    const int64_t labelled = counts.positives[k] + counts.negatives[k];
    absl::StrAppend(&md, "| ", ShortClassName(data.class_names[k], kTableName, &key), " | ", counts.positives[k], " | ",
                    counts.negatives[k], " | ",
                    labelled > 0 ? absl::StrFormat("%.3f", static_cast<double>(counts.positives[k]) / labelled) : "—",
                    " |");
    for (const auto& e : r) absl::StrAppend(&md, absl::StrFormat(" %.3f |", e.all.auroc[k]));
    for (const auto& e : r) absl::StrAppend(&md, absl::StrFormat(" %.3f |", e.all.auprc[k]));
    absl::StrAppend(&md, "\n");
  }
  if (!key.empty()) absl::StrAppend(&md, "\nKey: ", absl::StrJoin(key, "; "), ".\n");
  return md;
}

std::string EncoderJson(const std::string& name, const EncoderResult& r, const TaskData& data, const ClassCounts& counts,
                        bool first) {
  std::string classes;
  for (int64_t k = 0; k < data.c; ++k) {
    absl::StrAppend(&classes, k ? ", " : "", "{\"name\": ", JsonString(data.class_names[k]), ", \"auroc\": ",
                    Json(r.all.auroc[k]), ", \"auprc\": ", Json(r.all.auprc[k]), ", \"test_positives\": ",
                    counts.positives[k], ", \"test_negatives\": ", counts.negatives[k], "}");
  }
  const auto& p = r.paired;
  const std::string paired = first ? "null"
                                   : absl::StrCat("{\"delta_auroc\": ", Json(p.delta), ", \"low\": ",
                                                  Json(p.delta_interval.low), ", \"high\": ", Json(p.delta_interval.high),
                                                  ", \"p_not_better\": ", Json(p.p_a_not_better), "}");
  return absl::StrCat("    {\"name\": ", JsonString(name), ", \"mean_auroc\": ", JsonInterval(r.auroc),
                      ", \"mean_auprc\": ", JsonInterval(r.auprc), ", \"accuracy\": ", JsonInterval(r.accuracy),
                      ", \"classes\": [", classes, "], \"vs_first\": ", paired, "}");
}

// Every test prediction, for pooling across runs (test_scores.h).
TestScores CollectTestScores(const TaskData& data, const std::vector<std::string>& names,
                             const std::vector<double>& labels, const std::vector<std::vector<double>>& scores,
                             const ShiftScores* shifts) {
  TestScores t;
  for (int64_t i : data.test) t.ids.push_back(data.ids.empty() ? absl::StrCat(i) : data.ids[i]);
  t.class_names = data.class_names;
  t.labels = labels;
  t.multiclass = data.multiclass;
  t.encoders = names;
  t.conditions = {"none"};
  for (size_t e = 0; e < names.size(); ++e) t.scores[{names[e], "none"}] = scores[e];
  if (shifts != nullptr) {
    for (size_t l = 0; l < shifts->levels.size(); ++l) {
      t.conditions.push_back(shifts->levels[l].label());
      for (size_t e = 0; e < names.size(); ++e) t.scores[{names[e], shifts->levels[l].label()}] = shifts->scores[e][l];
    }
  }
  return t;
}

}  // namespace

ClassCounts CountTestLabels(const TaskData& data) {
  ClassCounts out{std::vector<int64_t>(data.c, 0), std::vector<int64_t>(data.c, 0)};
  for (int64_t i : data.test) {
    for (int64_t k = 0; k < data.c; ++k) {
      const double v = data.targets[i * data.c + k];
      if (std::isnan(v)) continue;
      (v >= 0.5 ? out.positives : out.negatives)[k]++;
    }
  }
  return out;
}

std::string ShortClassName(const std::string& name, size_t max_chars, std::vector<std::string>* key) {
  const std::string s = Abbreviate(name, max_chars);
  if (s != name && key != nullptr) {
    const std::string entry = absl::StrCat(s, " = ", name);
    if (std::find(key->begin(), key->end(), entry) == key->end()) key->push_back(entry);
  }
  return s;
}

absl::StatusOr<ClassificationReport> WriteClassificationReport(
    const std::string& name, const std::string& dir, const TaskData& data, const std::vector<std::string>& names,
    const std::vector<std::vector<double>>& test_scores, int bootstrap, const ShiftScores* shifts) {
  const int64_t nt = static_cast<int64_t>(data.test.size()), c = data.c;
  std::vector<double> labels;
  for (int64_t i : data.test)
    for (int64_t k = 0; k < c; ++k) labels.push_back(data.targets[i * c + k]);
  const int resamples = bootstrap > 0 ? bootstrap : 1000;
  auto metric = [&](size_t e, int which) {
    return [&, e, which](const std::vector<int64_t>& idx) {
      ClassificationMetrics m = Classify(test_scores[e], labels, nt, c, data.multiclass, &idx);
      return which == 0 ? m.mean_auroc : which == 1 ? m.mean_auprc : m.accuracy;
    };
  };
  std::vector<EncoderResult> results(names.size());
  for (size_t e = 0; e < names.size(); ++e) {
    EncoderResult& r = results[e];
    r.all = Classify(test_scores[e], labels, nt, c, data.multiclass);
    r.auroc = Bootstrap(nt, metric(e, 0), resamples, kBootstrapSeed);
    r.auprc = Bootstrap(nt, metric(e, 1), resamples, kBootstrapSeed);
    r.accuracy = Bootstrap(nt, metric(e, 2), resamples, kBootstrapSeed);
    if (e > 0) r.paired = PairedBootstrap(nt, metric(e, 0), metric(0, 0), resamples, kBootstrapSeed);
  }
  const ClassCounts counts = CountTestLabels(data);
  ClassificationReport out;
  out.markdown = absl::StrCat("### ", name, "\n\n", data.description, "\n\n", MainTable(names, results),
                              ClassTable(data, names, results, counts));
  std::string json = absl::StrCat("{\n  \"evaluator\": ", JsonString(name), ",\n  \"data\": ", JsonString(data.description),
                                  ",\n  \"bootstrap_resamples\": ", resamples, ",\n  \"encoders\": [\n");
  for (size_t e = 0; e < names.size(); ++e) {
    absl::StrAppend(&json, e ? ",\n" : "", EncoderJson(names[e], results[e], data, counts, e == 0));
    out.summary[names[e] + "/mean_auroc"] = results[e].auroc.value;
    out.summary[names[e] + "/accuracy"] = results[e].accuracy.value;
  }
  absl::StrAppend(&json, "\n  ]");
  if (!data.overlap.empty()) absl::StrAppend(&json, ",\n  \"overlap\": ", JsonString(data.overlap));
  if (!data.overlap_pairs.empty()) {
    std::vector<std::string> quoted;
    for (const auto& p : data.overlap_pairs) quoted.push_back(JsonString(p));
    absl::StrAppend(&json, ",\n  \"overlap_pairs\": [", absl::StrJoin(quoted, ", "), "]");
  }
  RETURN_IF_ERROR(MakeDirectories(dir));
  if (shifts != nullptr && !shifts->levels.empty()) {
    ShiftMatrix m = MakeShiftMatrix(data, names, test_scores, *shifts, resamples);
    absl::StrAppend(&out.markdown, "\n", m.markdown);
    absl::StrAppend(&json, ",\n  \"shifts\": ", m.json);
    for (const auto& [k, v] : m.summary) out.summary[k] = v;
    RETURN_IF_ERROR(WriteFileAtomically(dir + "/" + name + "_shifts.svg", m.svg));
  }
  absl::StrAppend(&json, "\n}\n");
  RETURN_IF_ERROR(WriteFileAtomically(dir + "/" + name + "_scores.csv",
                                      TestScoresToCsv(CollectTestScores(data, names, labels, test_scores, shifts))));
  RETURN_IF_ERROR(WriteFileAtomically(dir + "/" + name + ".json", json));
  RETURN_IF_ERROR(WriteFileAtomically(dir + "/" + name + ".md", out.markdown));
  RETURN_IF_ERROR(WriteFileAtomically(dir + "/" + name + "_roc.svg",
                                      RocFigure(data, names, labels, test_scores, results, counts)));
  return out;
}

}  // namespace chexworld
