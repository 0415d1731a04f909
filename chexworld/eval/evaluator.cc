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
#include "chexworld/eval/classification_report.h"
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

absl::StatusOr<EvalReport> Report(const std::string& name, const EvalContext& ctx, const TaskData& data,
                                  const std::vector<std::string>& encoder_names,
                                  const std::vector<std::vector<double>>& test_scores, int bootstrap,
                                  const ShiftScores* shifts) {
  ASSIGN_OR_RETURN(ClassificationReport written, WriteClassificationReport(name, ctx.run_dir + "/eval", data, encoder_names,
                                                                           test_scores, bootstrap, shifts));
  EvalReport report;
  report.name = name;
  report.summary = std::move(written.summary);
  report.markdown = std::move(written.markdown);
  return report;
}

}  // namespace chexworld
