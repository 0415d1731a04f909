#include "chexworld/eval/evaluator.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "chexworld/core/config.h"
#include "chexworld/core/paths.h"
#include "chexworld/core/status_macros.h"
#include "chexworld/data/dataset.h"
#include "chexworld/data/decode.h"
#include "chexworld/data/resize.h"
#include "chexworld/data/transforms/dual_view.h"
#include "chexworld/models/checkpoint/adapt.h"
#include "chexworld/models/checkpoint/state_dict.h"

namespace chexworld {
namespace {

const double kNaN = std::nan("");

}  // namespace

absl::StatusOr<int> InputSize(const EvalContext& ctx, const EvalData& d) {
  if (d.image_size() > 0) return d.image_size();
  if (ctx.image_size > 0) return static_cast<int>(ctx.image_size);
  ASSIGN_OR_RETURN(std::shared_ptr<Encoder> encoder, CreateEncoder(ctx.config.model().encoder()));
  return static_cast<int>(encoder->image_size());
}

std::vector<torch::Tensor> BestState::All() const {
  std::vector<torch::Tensor> out;
  for (auto* m : modules_) {
    for (const auto& p : m->parameters()) out.push_back(p);
    for (const auto& b : m->buffers()) out.push_back(b);
  }
  return out;
}

void BestState::Save() {
  tensors_.clear();
  for (const auto& t : All()) tensors_.push_back(t.detach().clone());
}

void BestState::Restore() {
  if (tensors_.empty()) return;
  torch::NoGradGuard g;
  size_t k = 0;
  for (auto& t : All()) t.copy_(tensors_[k++]);
}

std::vector<EncoderSource> SourcesOrPretrained(const google::protobuf::RepeatedPtrField<EncoderSource>& sources) {
  std::vector<EncoderSource> out(sources.begin(), sources.end());
  if (out.empty()) {
    EncoderSource s;
    s.set_name("pretrained");
    out.push_back(s);
  }
  return out;
}

absl::StatusOr<TaskData> LoadTaskData(const EvalData& d, int image_size, bool with_masks) {
  ASSIGN_OR_RETURN(std::shared_ptr<Dataset> ds, CreateDataset(d.dataset()));
  TaskData t;
  t.n = ds->size();
  const auto& names = ds->label_names();
  if (names.empty()) return absl::InvalidArgumentError("the evaluation dataset has no labels");
  std::vector<std::vector<float>> raw(t.n);
  std::vector<std::string> patients(t.n);
  t.images.resize(t.n);
  if (with_masks) {
    t.masks.resize(t.n);
    t.mask_names = ds->mask_names();
    if (t.mask_names.empty()) return absl::InvalidArgumentError("the evaluation dataset has no masks");
  }
  for (int64_t i = 0; i < t.n; ++i) {
    ShardSample s;
    RETURN_IF_ERROR(ds->Read(i, &s));
    t.images[i] = (s.image.height == image_size && s.image.width == image_size) ? std::move(s.image)
                                                                              : Resize(s.image, image_size, image_size);
    raw[i] = s.labels;
    patients[i] = s.patient_id;
    if (with_masks) {
      const int h = ds->image_height(), w = ds->image_width(), m = static_cast<int>(t.mask_names.size());
      for (int k = 0; k < m; ++k) {
        GrayImage mk(h, w);
        for (int p = 0; p < h * w; ++p) mk.pixels[p] = s.masks[static_cast<size_t>(k) * h * w + p];
        GrayImage r = (h == image_size && w == image_size) ? mk : Resize(mk, image_size, image_size);
        for (float v : r.pixels) t.masks[i].push_back(v >= 0.5f ? 1 : 0);
      }
    }
  }
  std::string task = d.task().empty() ? "auto" : d.task();
  if (task == "binary" || !d.positive_labels().empty()) {
    std::vector<int> pos;
    for (const auto& l : d.positive_labels()) {
      auto it = std::find(names.begin(), names.end(), l);
      if (it == names.end()) {
        return absl::InvalidArgumentError(absl::StrCat("EvalData.positive_labels: '", l, "' is not a label of the dataset (",
                                                       absl::StrJoin(names, ", "), ")"));
      }
      pos.push_back(static_cast<int>(it - names.begin()));
    }
    if (pos.empty()) pos.push_back(0);
    t.c = 1;
    t.class_names = {d.positive_labels().empty() ? names[0] : absl::StrJoin(d.positive_labels(), "+")};
    for (const auto& r : raw) {
      double y = 0;
      bool unknown = false;
      for (int p : pos) {
        if (std::isnan(r[p])) unknown = true;
        else if (r[p] > 0.5f) y = 1;
      }
      t.targets.push_back(y == 0 && unknown ? kNaN : y);
    }
  } else {
    t.c = static_cast<int64_t>(names.size());
    t.class_names = names;
    bool one_hot = true;
    for (const auto& r : raw) {
      int ones = 0;
      for (float v : r) ones += v > 0.5f, one_hot &= !std::isnan(v);
      one_hot &= ones == 1;
      for (float v : r) t.targets.push_back(v);
    }
    if (task == "multiclass" && !one_hot) {
      return absl::InvalidArgumentError("EvalData.task = multiclass but some rows do not have exactly one label");
    }
    t.multiclass = task == "multiclass" || (task == "auto" && one_hot);
  }
  // Seeded split, then the label fraction / k-shot subset of train.
  const double ftrain = d.train_fraction() > 0 ? d.train_fraction() : 0.6;
  const double fval = d.val_fraction() > 0 ? d.val_fraction() : 0.2;
  if (ftrain + fval >= 1.0) return absl::InvalidArgumentError("EvalData: train_fraction + val_fraction must be < 1");
  // Where the data has patient ids, whole patients go to one split (no
  // patient's images on both sides); otherwise images are split.
  std::mt19937_64 rng(d.seed() * 7919 + 17);
  std::vector<int64_t> order(t.n);
  std::iota(order.begin(), order.end(), 0);
  t.patient_level = std::any_of(patients.begin(), patients.end(), [](const std::string& p) { return !p.empty(); });
  std::vector<int64_t> train;
  if (t.patient_level) {
    std::map<std::string, std::vector<int64_t>> groups;
    for (int64_t i = 0; i < t.n; ++i) groups[patients[i].empty() ? absl::StrCat("#image", i) : patients[i]].push_back(i);
    std::vector<const std::vector<int64_t>*> g;
    for (const auto& [k, v] : groups) g.push_back(&v);
    std::shuffle(g.begin(), g.end(), rng);
    for (const auto* members : g) {
      const int64_t assigned = static_cast<int64_t>(train.size() + t.val.size());
      auto& dst = assigned < ftrain * t.n ? train : (assigned < (ftrain + fval) * t.n ? t.val : t.test);
      dst.insert(dst.end(), members->begin(), members->end());
    }
  } else {
    std::shuffle(order.begin(), order.end(), rng);
    const int64_t ntrain = static_cast<int64_t>(ftrain * t.n), nval = static_cast<int64_t>(fval * t.n);
    train.assign(order.begin(), order.begin() + ntrain);
    t.val.assign(order.begin() + ntrain, order.begin() + ntrain + nval);
    t.test.assign(order.begin() + ntrain + nval, order.end());
  }
  if (d.shots() > 0) {
    for (int64_t k = 0; k < t.c; ++k) {
      int taken = 0;
      for (int64_t i : train) {
        if (taken < d.shots() && t.targets[i * t.c + k] > 0.5) {
          t.train.push_back(i);
          ++taken;
        }
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
  t.description = absl::StrCat(t.n, " images", t.patient_level ? " (patient-level split)" : "", ", ", t.multiclass ? "multi-class" : (t.c == 1 ? "binary" : "multi-label"),
                               " over ", absl::StrJoin(t.class_names, ", "), "; train ", t.train.size(), " / val ",
                               t.val.size(), " / test ", t.test.size(), " (seed ", d.seed(), ")");
  return t;
}

absl::StatusOr<std::shared_ptr<Encoder>> LoadEncoder(const EvalContext& ctx, const EncoderSource& source,
                                                     const std::vector<std::string>& overrides) {
  ComponentSpec spec = ctx.config.model().encoder();
  for (const auto& o : overrides) RETURN_IF_ERROR(ApplyOverride(o, &spec));
  torch::manual_seed(ctx.config.run().seed());
  ASSIGN_OR_RETURN(std::shared_ptr<Encoder> encoder, CreateEncoder(spec));
  const std::string ckpt = source.checkpoint().empty() ? ctx.pretrained : source.checkpoint();
  if (ckpt == "random") return encoder;
  if (ckpt.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "encoder '", source.name(), "': no weights (this run did not pretrain); give checkpoint: a state dict, an "
        "official checkpoint, or \"random\""));
  }
  ASSIGN_OR_RETURN(NamedTensors sd, ReadTorchStateDict(UserPath(ckpt)));
  std::string prefix = source.prefix();
  if (prefix.empty()) {
    for (const char* p : {"target_encoder.", "encoder."}) {
      if (!SelectPrefix(sd, p).empty()) {
        prefix = p;
        break;
      }
    }
  }
  if (!prefix.empty()) sd = SelectPrefix(sd, prefix);
  ASSIGN_OR_RETURN(sd, AdaptEncoderWeights(sd, *encoder));
  auto report = LoadStateDict(*encoder, sd, LoadMode::kStrict);
  if (!report.ok()) return AddContext(report.status(), absl::StrCat("loading ", ckpt, " into encoder '", source.name(), "'"));
  return encoder;
}

torch::Tensor ToTensor(const std::vector<GrayImage>& images, const std::vector<int64_t>& indices, int channels,
                       const std::string& normalization) {
  std::vector<float> mean, std;
  NormalizationStats(normalization.empty() ? "imagenet" : normalization, channels, &mean, &std).IgnoreError();
  const int64_t s = images.empty() ? 0 : images[indices[0]].height;
  auto out = torch::empty({static_cast<int64_t>(indices.size()), channels, s, s});
  float* p = out.data_ptr<float>();
  for (size_t b = 0; b < indices.size(); ++b) {
    const GrayImage& img = images[indices[b]];
    for (int c = 0; c < channels; ++c) {
      for (int64_t k = 0; k < s * s; ++k) *p++ = (img.pixels[k] - mean[c]) / std[c];
    }
  }
  return out;
}

torch::Tensor ExtractFeatures(Encoder& encoder, const TaskData& data, const std::string& normalization,
                              torch::Device device, int batch_size) {
  torch::NoGradGuard no_grad;
  encoder.eval();
  std::vector<torch::Tensor> feats;
  for (int64_t start = 0; start < data.n; start += batch_size) {
    std::vector<int64_t> idx;
    for (int64_t i = start; i < std::min<int64_t>(data.n, start + batch_size); ++i) idx.push_back(i);
    auto x = ToTensor(data.images, idx, static_cast<int>(encoder.in_channels()), normalization).to(device);
    feats.push_back(encoder.Forward(x).mean(1).to(torch::kCPU));
  }
  return torch::cat(feats, 0);
}

namespace {

// A small line plot: ROC curves on a white 320x320 canvas with axes and the diagonal.
std::vector<uint8_t> PlotRoc(const std::vector<std::vector<std::pair<double, double>>>& curves, int size = 320) {
  std::vector<uint8_t> rgb(static_cast<size_t>(size) * size * 3, 255);
  const int margin = 24;
  auto put = [&](int x, int y, const uint8_t* c) {
    if (x < 0 || y < 0 || x >= size || y >= size) return;
    for (int k = 0; k < 3; ++k) rgb[(static_cast<size_t>(y) * size + x) * 3 + k] = c[k];
  };
  auto line = [&](double x0, double y0, double x1, double y1, const uint8_t* c) {
    auto px = [&](double v) { return margin + v * (size - 2 * margin); };
    auto py = [&](double v) { return size - margin - v * (size - 2 * margin); };
    const double ax = px(x0), ay = py(y0), bx = px(x1), by = py(y1);
    const int steps = static_cast<int>(std::max(std::abs(bx - ax), std::abs(by - ay))) + 1;
    for (int i = 0; i <= steps; ++i) {
      const double t = static_cast<double>(i) / steps;
      put(static_cast<int>(std::lround(ax + t * (bx - ax))), static_cast<int>(std::lround(ay + t * (by - ay))), c);
      put(static_cast<int>(std::lround(ax + t * (bx - ax))) + 1, static_cast<int>(std::lround(ay + t * (by - ay))), c);
    }
  };
  const uint8_t black[3] = {0, 0, 0}, grey[3] = {180, 180, 180};
  line(0, 0, 1, 0, black);
  line(0, 0, 0, 1, black);
  line(0, 0, 1, 1, grey);
  static const uint8_t colors[6][3] = {{214, 39, 40}, {31, 119, 180}, {44, 160, 44}, {255, 127, 14}, {148, 103, 189}, {140, 86, 75}};
  for (size_t c = 0; c < curves.size(); ++c) {
    for (size_t i = 1; i < curves[c].size(); ++i) {
      line(curves[c][i - 1].first, curves[c][i - 1].second, curves[c][i].first, curves[c][i].second, colors[c % 6]);
    }
  }
  return rgb;
}

std::string Json(double v) { return std::isnan(v) ? "null" : absl::StrFormat("%.6g", v); }

}  // namespace

absl::StatusOr<EvalReport> Report(const std::string& name, const EvalContext& ctx, const TaskData& data,
                                  const std::vector<std::string>& encoder_names,
                                  const std::vector<std::vector<double>>& test_scores, int bootstrap) {
  const int64_t nt = static_cast<int64_t>(data.test.size()), c = data.c;
  std::vector<double> labels;
  for (int64_t i : data.test)
    for (int64_t k = 0; k < c; ++k) labels.push_back(data.targets[i * c + k]);
  const int resamples = bootstrap > 0 ? bootstrap : 1000;
  const uint64_t seed = 12345;
  auto metric = [&](size_t e, int which) {
    return [&, e, which](const std::vector<int64_t>& idx) {
      ClassificationMetrics m = Classify(test_scores[e], labels, nt, c, data.multiclass, &idx);
      return which == 0 ? m.mean_auroc : which == 1 ? m.mean_auprc : m.accuracy;
    };
  };
  EvalReport report;
  report.name = name;
  std::string json = absl::StrCat("{\n  \"evaluator\": \"", name, "\",\n  \"data\": \"", data.description,
                                  "\",\n  \"bootstrap_resamples\": ", resamples, ",\n  \"encoders\": [\n");
  std::string md = absl::StrCat("### ", name, "\n\n", data.description, "\n\n| encoder | mean AUROC [95% CI] | mean AUPRC [95% CI] | accuracy [95% CI] | per class AUROC | vs ",
                                encoder_names[0], ": ΔAUROC [95% CI], P(not better) |\n|---|---|---|---|---|---|\n");
  std::vector<std::vector<std::pair<double, double>>> curves;
  for (size_t e = 0; e < encoder_names.size(); ++e) {
    ClassificationMetrics all = Classify(test_scores[e], labels, nt, c, data.multiclass);
    Interval auroc = Bootstrap(nt, metric(e, 0), resamples, seed);
    Interval auprc = Bootstrap(nt, metric(e, 1), resamples, seed);
    Interval acc = Bootstrap(nt, metric(e, 2), resamples, seed);
    std::string per_class;
    for (int64_t k = 0; k < c; ++k) {
      absl::StrAppend(&per_class, k ? ", " : "", data.class_names[k], " ", absl::StrFormat("%.3f", all.auroc[k]));
    }
    std::string paired = "—";
    std::string paired_json = "null";
    if (e > 0) {
      PairedComparison p = PairedBootstrap(nt, metric(e, 0), metric(0, 0), resamples, seed);
      paired = absl::StrFormat("%+.3f [%+.3f, %+.3f], %.3f", p.delta, p.delta_interval.low, p.delta_interval.high,
                               p.p_a_not_better);
      paired_json = absl::StrCat("{\"delta_auroc\": ", Json(p.delta), ", \"low\": ", Json(p.delta_interval.low),
                                 ", \"high\": ", Json(p.delta_interval.high), ", \"p_not_better\": ",
                                 Json(p.p_a_not_better), "}");
    }
    auto fmt = [](const Interval& i) { return absl::StrFormat("%.3f [%.3f, %.3f]", i.value, i.low, i.high); };
    absl::StrAppend(&md, "| ", encoder_names[e], " | ", fmt(auroc), " | ", fmt(auprc), " | ", fmt(acc), " | ",
                    per_class, " | ", paired, " |\n");
    auto ci = [&](const Interval& i) {
      return absl::StrCat("{\"value\": ", Json(i.value), ", \"low\": ", Json(i.low), ", \"high\": ", Json(i.high), "}");
    };
    std::string classes;
    for (int64_t k = 0; k < c; ++k) {
      absl::StrAppend(&classes, k ? ", " : "", "{\"name\": \"", data.class_names[k], "\", \"auroc\": ", Json(all.auroc[k]),
                      ", \"auprc\": ", Json(all.auprc[k]), "}");
    }
    absl::StrAppend(&json, e ? ",\n" : "", "    {\"name\": \"", encoder_names[e], "\", \"mean_auroc\": ", ci(auroc),
                    ", \"mean_auprc\": ", ci(auprc), ", \"accuracy\": ", ci(acc), ", \"classes\": [", classes,
                    "], \"vs_first\": ", paired_json, "}");
    report.summary[encoder_names[e] + "/mean_auroc"] = auroc.value;
    report.summary[encoder_names[e] + "/accuracy"] = acc.value;
    // ROC of the first class (or the binary task) for the plot.
    std::vector<double> s0, l0;
    for (int64_t i = 0; i < nt; ++i) s0.push_back(test_scores[e][i * c]), l0.push_back(labels[i * c]);
    curves.push_back(RocCurve(s0, l0));
  }
  absl::StrAppend(&json, "\n  ]\n}\n");
  absl::StrAppend(&md, "\nROC curves (", data.class_names[0], "): eval/", name, "_roc.png, colours in row order (red, blue, green, orange, purple).\n");
  const std::string dir = ctx.run_dir + "/eval";
  RETURN_IF_ERROR(MakeDirectories(dir));
  RETURN_IF_ERROR(WriteFileAtomically(dir + "/" + name + ".json", json));
  RETURN_IF_ERROR(WriteFileAtomically(dir + "/" + name + ".md", md));
  ASSIGN_OR_RETURN(std::string png, EncodePngRgb(PlotRoc(curves), 320, 320));
  RETURN_IF_ERROR(WriteFileAtomically(dir + "/" + name + "_roc.png", png));
  report.markdown = md;
  return report;
}

}  // namespace chexworld
