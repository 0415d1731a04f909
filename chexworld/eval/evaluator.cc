#include "chexworld/eval/evaluator.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>
#include <random>
#include <map>
#include <set>

#include <glog/logging.h>

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

absl::StatusOr<std::shared_ptr<Encoder>> LazyEncoder::Get() {
  if (encoder_ == nullptr) {
    ASSIGN_OR_RETURN(encoder_, LoadEncoder(*context_, source_));
    encoder_->to(context_->device);
  }
  return encoder_;
}

ImageSelection AllImages(const TaskData& data) {
  ImageSelection s;
  s.rows.resize(data.n);
  std::iota(s.rows.begin(), s.rows.end(), 0);
  return s;
}

ImagePass PassFor(const ImageSelection& selection, int channels, const std::string& normalization,
                  torch::Device device, int batch_size) {
  ImagePass pass;
  pass.rows = selection.rows;
  pass.alter = selection.alter;
  pass.batch_size = batch_size;
  pass.channels = channels;
  pass.normalization = normalization;
  pass.pin_memory = device.is_cuda();
  return pass;
}

absl::StatusOr<torch::Tensor> EncodeImages(Encoder& encoder, const TaskData& data, const ImagePass& pass,
                                           torch::Device device, bool pooled, torch::ScalarType dtype) {
  torch::NoGradGuard no_grad;
  encoder.eval();
  const auto start = std::chrono::steady_clock::now();
  ImageStream stream(data, pass);
  torch::Tensor out;  // filled batch by batch: the only thing that grows with the images
  while (true) {
    ASSIGN_OR_RETURN(std::optional<ImageBatch> batch, stream.Next());
    if (!batch) break;
    torch::Tensor tokens = encoder.Forward(batch->images.to(device, /*non_blocking=*/true));
    torch::Tensor y = (pooled ? tokens.mean(1) : tokens).to(torch::kCPU, dtype);
    if (!out.defined()) {
      std::vector<int64_t> shape = y.sizes().vec();
      shape[0] = static_cast<int64_t>(pass.rows.size());
      out = torch::empty(shape, torch::TensorOptions().dtype(dtype));
    }
    out.narrow(0, batch->first, y.size(0)).copy_(y);
  }
  if (!out.defined()) return absl::InvalidArgumentError("an encoder pass over no images");
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  LOG(INFO) << absl::StrFormat("encoder pass: %d images in %.2f s (%.1f images/s, %d loader workers)",
                               out.size(0), seconds, out.size(0) / std::max(seconds, 1e-9), data.num_workers);
  return out;
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
