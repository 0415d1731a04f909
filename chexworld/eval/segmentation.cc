// Registered evaluator "segmentation".
#include <cmath>
#include <random>

#include <glog/logging.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "chexworld/core/paths.h"
#include "chexworld/core/status_macros.h"
#include "chexworld/data/decode.h"
#include "chexworld/eval/eval_data.h"
#include "chexworld/eval/evaluator.h"
#include "chexworld/eval/metrics.h"
#include "chexworld/eval/figure.h"
#include "chexworld/models/heads/seg_decoder.h"

namespace chexworld {
namespace {

// Per test image and class: Dice and IoU of the thresholded prediction, and
// the first few predictions themselves (the overlays).
struct SegScores {
  std::vector<std::vector<double>> dice, iou;  // [class][image]
  std::vector<std::vector<uint8_t>> shown;     // first images' C * S * S predictions
  double mean_dice() const {
    double sum = 0;
    size_t n = 0;
    for (const auto& c : dice)
      for (double v : c) sum += v, ++n;
    return n == 0 ? 0 : sum / n;
  }
};

class Segmentation : public Evaluator {
 public:
  explicit Segmentation(SegmentationOptions o) : o_(std::move(o)) {}

  absl::StatusOr<EvalReport> Run(const EvalContext& ctx) override {
    ASSIGN_OR_RETURN(const int size, InputSize(ctx, o_.data()));
    ASSIGN_OR_RETURN(TaskData data, LoadTaskData(o_.data(), size, /*with_masks=*/true));
    std::vector<int> classes;
    if (o_.classes().empty()) {
      for (size_t k = 0; k < data.mask_names.size(); ++k) classes.push_back(static_cast<int>(k));
    } else {
      for (const auto& c : o_.classes()) {
        auto it = std::find(data.mask_names.begin(), data.mask_names.end(), c);
        if (it == data.mask_names.end()) {
          return absl::InvalidArgumentError(absl::StrCat("SegmentationOptions.classes: no mask '", c, "' (masks: ",
                                                         absl::StrJoin(data.mask_names, ", "), ")"));
        }
        classes.push_back(static_cast<int>(it - data.mask_names.begin()));
      }
    }
    std::vector<std::string> names;
    std::vector<SegScores> scores;  // per encoder, on the test images
    for (const EncoderSource& src : SourcesOrPretrained(o_.encoders())) {
      ASSIGN_OR_RETURN(SegScores s, TrainOne(ctx, src, data, classes, size));
      names.push_back(src.name());
      scores.push_back(std::move(s));
    }
    return Write(ctx, data, classes, size, names, scores);
  }

 private:
  ImagePass Pass(const std::vector<int64_t>& rows, const std::vector<int>& classes, const Encoder& enc,
                 torch::Device device, int batch_size) const {
    ImagePass pass = PassFor(ImageSelection{rows, nullptr, ""}, enc, o_.data().normalization(), device, batch_size);
    pass.masks = classes;
    return pass;
  }

  // Streams `rows` with their masks through the encoder and decoder (eval mode).
  absl::StatusOr<SegScores> Evaluate(Encoder& enc, SegDecoder& decoder, const TaskData& data,
                                     const std::vector<int64_t>& rows, const std::vector<int>& classes,
                                     torch::Device device, int keep) const {
    torch::NoGradGuard g;
    enc.eval();
    decoder->eval();
    SegScores out;
    out.dice.assign(classes.size(), {});
    out.iou.assign(classes.size(), {});
    ImageStream stream(data, Pass(rows, classes, enc, device, 16));
    const size_t plane = static_cast<size_t>(data.image_size) * data.image_size;
    while (true) {
      ASSIGN_OR_RETURN(std::optional<ImageBatch> batch, stream.Next());
      if (!batch) break;
      auto x = batch->images.to(device, /*non_blocking=*/true);
      auto prob = decoder(enc.Forward(x), x).sigmoid().to(torch::kCPU).contiguous();
      auto truth = batch->masks.to(torch::kUInt8).contiguous();
      for (int64_t b = 0; b < prob.size(0); ++b) {
        std::vector<uint8_t> pred(classes.size() * plane);
        const float* p = prob.data_ptr<float>() + b * pred.size();
        for (size_t k = 0; k < pred.size(); ++k) pred[k] = p[k] >= 0.5f;
        const uint8_t* t = truth.data_ptr<uint8_t>() + b * pred.size();
        for (size_t c = 0; c < classes.size(); ++c) {
          const std::vector<uint8_t> pc(pred.begin() + c * plane, pred.begin() + (c + 1) * plane);
          const std::vector<uint8_t> tc(t + c * plane, t + (c + 1) * plane);
          out.dice[c].push_back(Dice(pc, tc));
          out.iou[c].push_back(Iou(pc, tc));
        }
        if (static_cast<int>(out.shown.size()) < keep) out.shown.push_back(std::move(pred));
      }
    }
    return out;
  }

  absl::StatusOr<SegScores> TrainOne(const EvalContext& ctx, const EncoderSource& src, const TaskData& data,
                                     const std::vector<int>& classes, int size) {
    ASSIGN_OR_RETURN(std::shared_ptr<Encoder> enc,
                     LoadEncoder(ctx, src, {absl::StrCat("options.drop_path_rate=", DecimalValue(o_.drop_path()))}));
    torch::manual_seed(o_.data().seed());
    const int64_t grid = size / enc->patch_size();
    SegDecoder decoder(enc->embed_dim(), grid, size, enc->in_channels(), static_cast<int64_t>(classes.size()),
                       o_.decoder_width());
    enc->to(ctx.device);
    decoder->to(ctx.device);
    const double lr = DecimalValue(o_.lr()), decay = DecimalValue(o_.layer_decay());
    const double wd = DecimalValue(o_.weight_decay());
    std::vector<torch::optim::OptimizerParamGroup> groups;
    groups.emplace_back(decoder->parameters(), std::make_unique<torch::optim::AdamWOptions>(
                                                   torch::optim::AdamWOptions(lr).weight_decay(wd)));
    if (!o_.freeze_encoder()) {
      std::vector<torch::Tensor> enc_params;
      for (const auto& p : enc->parameters())
        if (p.requires_grad()) enc_params.push_back(p);
      groups.emplace_back(enc_params, std::make_unique<torch::optim::AdamWOptions>(
                                          torch::optim::AdamWOptions(lr * decay).weight_decay(wd)));
    }
    torch::optim::AdamW opt(groups, torch::optim::AdamWOptions(lr));
    std::mt19937_64 rng(o_.data().seed() + 99);
    double best = -1;
    BestState best_state({enc.get(), decoder.ptr().get()});
    for (int e = 0; e < o_.epochs(); ++e) {
      std::vector<int64_t> order = data.train;
      std::shuffle(order.begin(), order.end(), rng);
      if (!o_.freeze_encoder()) enc->train();
      decoder->train();
      ImageStream stream(data, Pass(order, classes, *enc, ctx.device, o_.batch_size()));
      while (true) {
        ASSIGN_OR_RETURN(std::optional<ImageBatch> batch, stream.Next());
        if (!batch || batch->images.size(0) < 2) break;  // batch norm needs two samples
        auto x = batch->images.to(ctx.device, /*non_blocking=*/true);
        auto y = batch->masks.to(ctx.device, /*non_blocking=*/true);
        torch::Tensor tokens;
        if (o_.freeze_encoder()) {
          torch::NoGradGuard g;
          tokens = enc->Forward(x);
        } else {
          tokens = enc->Forward(x);
        }
        auto loss = DiceBceLoss(decoder(tokens, x), y);
        opt.zero_grad();
        loss.backward();
        opt.step();
      }
      ASSIGN_OR_RETURN(SegScores val, Evaluate(*enc, decoder, data, data.val, classes, ctx.device, 0));
      const double v = val.mean_dice();
      LOG(INFO) << "segmentation '" << src.name() << "' epoch " << e << ": validation Dice " << v;
      if (v > best) {
        best = v;
        best_state.Save();
      }
      if (!o_.freeze_encoder()) enc->train();
      decoder->train();
    }
    best_state.Restore();
    return Evaluate(*enc, decoder, data, data.test, classes, ctx.device, o_.overlays());
  }

  // Grey test images with the truth in green and the first encoder's
  // prediction in red (first class), side by side.
  absl::Status WriteOverlays(const std::string& path, const TaskData& data, const std::vector<int>& classes, int size,
                             const std::string& class_name, const std::string& encoder, const SegScores& first) const {
    const int shown = static_cast<int>(first.shown.size());
    if (shown == 0) return absl::OkStatus();
    const size_t plane = static_cast<size_t>(size) * size;
    std::vector<uint8_t> rgb(plane * shown * 3);
    for (int i = 0; i < shown; ++i) {
      GrayImage image;
      std::vector<uint8_t> masks;
      RETURN_IF_ERROR(data.images->Read(data.test[i], &image, &masks));
      for (int y = 0; y < size; ++y)
        for (int x = 0; x < size; ++x) {
          const size_t k = static_cast<size_t>(y) * size + x;
          const float g = std::clamp(image.pixels[k], 0.f, 1.f) * 255.f;
          const bool truth = masks[classes[0] * plane + k], pred = first.shown[i][k];
          uint8_t* px = &rgb[((static_cast<size_t>(y) * size * shown) + static_cast<size_t>(i) * size + x) * 3];
          px[0] = static_cast<uint8_t>(pred ? 0.5f * g + 127 : g);
          px[1] = static_cast<uint8_t>(truth ? 0.5f * g + 127 : g);
          px[2] = static_cast<uint8_t>(g * (pred || truth ? 0.5f : 1.f));
        }
    }
    ASSIGN_OR_RETURN(std::string png, EncodePngRgb(rgb, size, size * shown));
    const int scale = std::max(1, 192 / size);  // small inputs shown enlarged
    return WriteFileAtomically(
        path, RenderImageSvg(absl::StrCat("Test images: ", class_name, " masks, ", encoder), png, size * shown * scale,
                             size * scale, {{"truth", "#80ff80"}, {"prediction", "#ff8080"}, {"both", "#ffff80"}},
                             absl::StrCat("The first ", shown, " test images at ", size, " px; prediction thresholded at 0.5.")));
  }

  absl::StatusOr<EvalReport> Write(const EvalContext& ctx, const TaskData& data, const std::vector<int>& classes,
                                   int size, const std::vector<std::string>& names, const std::vector<SegScores>& scores) {
    const int64_t nt = static_cast<int64_t>(data.test.size());
    const int resamples = o_.data().bootstrap();
    auto mean_over = [](const std::vector<std::vector<double>>& v) {
      return [&v](const std::vector<int64_t>& idx) {
        double s = 0;
        for (const auto& col : v)
          for (int64_t i : idx) s += col[i];
        return s / (v.size() * idx.size());
      };
    };
    const std::string name = o_.data().tag().empty() ? "segmentation" : "segmentation_" + o_.data().tag();
    EvalReport report;
    report.name = name;
    std::vector<std::string> class_names;
    for (int c : classes) class_names.push_back(data.mask_names[c]);
    std::string md = absl::StrCat("### ", name, "\n\n", data.description, "; masks segmented: ",
                                  absl::StrJoin(class_names, ", "),
                                  "\n\n| encoder | mean Dice [95% CI] | mean IoU [95% CI] | per class Dice | vs ", names[0],
                                  ": ΔDice [95% CI], P(not better) |\n|---|---|---|---|---|\n");
    std::string json = absl::StrCat("{\n  \"evaluator\": \"", name, "\",\n  \"encoders\": [\n");
    const auto& dice0 = scores[0].dice;
    for (size_t e = 0; e < names.size(); ++e) {
      const auto& dice = scores[e].dice;
      const auto& iou = scores[e].iou;
      Interval d = Bootstrap(nt, mean_over(dice), resamples, 7), j = Bootstrap(nt, mean_over(iou), resamples, 7);
      std::string per_class, paired = "—";
      for (size_t c = 0; c < classes.size(); ++c) {
        double s = 0;
        for (double x : dice[c]) s += x;
        absl::StrAppend(&per_class, c ? ", " : "", class_names[c], " ", absl::StrFormat("%.3f", s / nt));
      }
      if (e > 0) {
        PairedComparison p = PairedBootstrap(nt, mean_over(dice), mean_over(dice0), resamples, 7);
        paired = absl::StrFormat("%+.3f [%+.3f, %+.3f], %.3f", p.delta, p.delta_interval.low, p.delta_interval.high,
                                 p.p_a_not_better);
      }
      absl::StrAppend(&md, "| ", names[e], absl::StrFormat(" | %.3f [%.3f, %.3f] | %.3f [%.3f, %.3f] | ", d.value, d.low,
                                                            d.high, j.value, j.low, j.high),
                      per_class, " | ", paired, " |\n");
      absl::StrAppend(&json, e ? ",\n" : "", "    {\"name\": \"", names[e],
                      absl::StrFormat("\", \"mean_dice\": {\"value\": %.6g, \"low\": %.6g, \"high\": %.6g}, "
                                      "\"mean_iou\": {\"value\": %.6g, \"low\": %.6g, \"high\": %.6g}}",
                                      d.value, d.low, d.high, j.value, j.low, j.high));
      report.summary[names[e] + "/mean_dice"] = d.value;
    }
    absl::StrAppend(&json, "\n  ]\n}\n");
    const std::string dir = ctx.run_dir + "/eval";
    RETURN_IF_ERROR(MakeDirectories(dir));
    RETURN_IF_ERROR(WriteFileAtomically(dir + "/" + name + ".json", json));
    RETURN_IF_ERROR(WriteFileAtomically(dir + "/" + name + ".md", md));
    RETURN_IF_ERROR(WriteOverlays(dir + "/" + name + "_overlays.svg", data, classes, size, class_names[0], names[0], scores[0]));
    report.markdown = md;
    return report;
  }

  SegmentationOptions o_;
};

// epochs 20, batch 8, decoder lr 1e-3 (encoder lr x layer decay 0.75), weight
// decay 0.05, drop path 0.1, decoder width 32, 4 overlays.
absl::Status ResolveSegmentation(SegmentationOptions* o) {
  if (!o->data().has_dataset()) return absl::InvalidArgumentError("SegmentationOptions.data.dataset is required");
  if (o->data().shifts_size() > 0) {
    return absl::InvalidArgumentError("SegmentationOptions.data.shifts: appearance shifts apply to the classification evaluators");
  }
  if (o->epochs() == 0) o->set_epochs(20);
  if (o->batch_size() == 0) o->set_batch_size(8);
  if (o->lr() == 0) o->set_lr(1e-3f);
  if (o->layer_decay() == 0) o->set_layer_decay(0.75f);
  if (o->weight_decay() == 0) o->set_weight_decay(0.05f);
  if (o->drop_path() == 0) o->set_drop_path(0.1f);
  if (o->decoder_width() == 0) o->set_decoder_width(32);
  if (o->overlays() == 0) o->set_overlays(4);
  if (o->layer_decay() < 0 || o->layer_decay() > 1) return absl::InvalidArgumentError("SegmentationOptions.layer_decay must be in (0, 1]");
  if (o->epochs() < 1 || o->batch_size() < 2 || o->decoder_width() < 1) {
    return absl::InvalidArgumentError("SegmentationOptions: epochs and decoder_width must be >= 1, batch_size >= 2");
  }
  return ResolveEvalData(o->mutable_data());
}

absl::StatusOr<std::shared_ptr<Evaluator>> MakeSegmentation(const SegmentationOptions& o) {
  return std::shared_ptr<Evaluator>(std::make_shared<Segmentation>(o));
}

}  // namespace

CHEXWORLD_REGISTER_COMPONENT("evaluator", "segmentation", SegmentationOptions, Evaluator,
                             "UNETR-style conv decoder on the ViT tokens, Dice + BCE, per-image Dice/IoU with CIs",
                             &MakeSegmentation, &ResolveSegmentation);

}  // namespace chexworld
