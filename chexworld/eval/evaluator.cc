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
#include "chexworld/eval/plot.h"
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

torch::Tensor EncodeImages(Encoder& encoder, const std::vector<GrayImage>& images, const std::string& normalization,
                           torch::Device device, bool pooled, int batch_size) {
  torch::NoGradGuard no_grad;
  encoder.eval();
  std::vector<torch::Tensor> out;
  const int64_t n = static_cast<int64_t>(images.size());
  for (int64_t start = 0; start < n; start += batch_size) {
    std::vector<int64_t> idx;
    for (int64_t i = start; i < std::min<int64_t>(n, start + batch_size); ++i) idx.push_back(i);
    auto x = ToTensor(images, idx, static_cast<int>(encoder.in_channels()), normalization).to(device);
    auto tokens = encoder.Forward(x);
    out.push_back((pooled ? tokens.mean(1) : tokens).to(torch::kCPU));
  }
  return torch::cat(out, 0);
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

// ROC curves on a white 320x320 canvas with the diagonal.
std::vector<uint8_t> PlotRoc(const std::vector<std::vector<std::pair<double, double>>>& curves, int size = 320) {
  Canvas canvas(size, size);
  Panel p{24, 24, size - 48, size - 48, 0, 1, 0, 1};
  p.Axes(canvas);
  const uint8_t grey[3] = {180, 180, 180};
  p.Line(canvas, 0, 0, 1, 1, grey);
  for (size_t c = 0; c < curves.size(); ++c) {
    for (size_t i = 1; i < curves[c].size(); ++i) {
      p.Line(canvas, curves[c][i - 1].first, curves[c][i - 1].second, curves[c][i].first, curves[c][i].second,
             SeriesColor(static_cast<int>(c)));
    }
  }
  return canvas.rgb();
}

std::string Json(double v) { return std::isnan(v) ? "null" : absl::StrFormat("%.6g", v); }

}  // namespace

absl::StatusOr<EvalReport> Report(const std::string& name, const EvalContext& ctx, const TaskData& data,
                                  const std::vector<std::string>& encoder_names,
                                  const std::vector<std::vector<double>>& test_scores, int bootstrap,
                                  const ShiftScores* shifts) {
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
  absl::StrAppend(&json, "\n  ]");
  absl::StrAppend(&md, "\nROC curves (", data.class_names[0], "): eval/", name, "_roc.png, colours in row order (red, blue, green, orange, purple).\n");
  const std::string dir = ctx.run_dir + "/eval";
  RETURN_IF_ERROR(MakeDirectories(dir));
  if (!data.overlap.empty()) absl::StrAppend(&json, ",\n  \"overlap\": \"", data.overlap, "\"");
  if (!data.overlap_pairs.empty()) {
    std::vector<std::string> quoted;
    for (const auto& p : data.overlap_pairs) {
      std::string q = "\"";
      for (char c : p) {
        if (c == '"' || c == '\\') q += '\\';
        if (static_cast<unsigned char>(c) >= 0x20) q += c;
      }
      quoted.push_back(q + "\"");
    }
    absl::StrAppend(&json, ",\n  \"overlap_pairs\": [", absl::StrJoin(quoted, ", "), "]");
  }
  if (shifts != nullptr && !shifts->levels.empty()) {
    ShiftMatrix m = MakeShiftMatrix(data, encoder_names, test_scores, *shifts, resamples, "eval/" + name + "_shifts.png");
    absl::StrAppend(&md, "\n", m.markdown);
    absl::StrAppend(&json, ",\n  \"shifts\": ", m.json);
    for (const auto& [k, v] : m.summary) report.summary[k] = v;
    ASSIGN_OR_RETURN(std::string png, EncodePngRgb(m.png_rgb, m.png_height, m.png_width));
    RETURN_IF_ERROR(WriteFileAtomically(dir + "/" + name + "_shifts.png", png));
  }
  absl::StrAppend(&json, "\n}\n");
  RETURN_IF_ERROR(WriteFileAtomically(dir + "/" + name + ".json", json));
  RETURN_IF_ERROR(WriteFileAtomically(dir + "/" + name + ".md", md));
  ASSIGN_OR_RETURN(std::string png, EncodePngRgb(PlotRoc(curves), 320, 320));
  RETURN_IF_ERROR(WriteFileAtomically(dir + "/" + name + "_roc.png", png));
  report.markdown = md;
  return report;
}

}  // namespace chexworld
