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
#include "chexworld/eval/evaluator.h"
#include "chexworld/eval/figure.h"
#include "chexworld/models/heads/seg_decoder.h"

namespace chexworld {
namespace {

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
    std::vector<std::vector<std::vector<uint8_t>>> predictions;  // encoder -> test image -> C*S*S
    for (const EncoderSource& src : SourcesOrPretrained(o_.encoders())) {
      ASSIGN_OR_RETURN(auto pred, TrainOne(ctx, src, data, classes, size));
      names.push_back(src.name());
      predictions.push_back(std::move(pred));
    }
    return Write(ctx, data, classes, size, names, predictions);
  }

 private:
  torch::Tensor MaskTensor(const TaskData& d, const std::vector<int64_t>& idx, const std::vector<int>& classes, int s) {
    auto t = torch::empty({static_cast<int64_t>(idx.size()), static_cast<int64_t>(classes.size()), s, s});
    float* p = t.data_ptr<float>();
    for (int64_t i : idx)
      for (int c : classes)
        for (int64_t k = 0; k < static_cast<int64_t>(s) * s; ++k) *p++ = d.masks[i][static_cast<size_t>(c) * s * s + k];
    return t;
  }

  absl::StatusOr<std::vector<std::vector<uint8_t>>> TrainOne(const EvalContext& ctx, const EncoderSource& src,
                                                             const TaskData& data, const std::vector<int>& classes,
                                                             int size) {
    ASSIGN_OR_RETURN(std::shared_ptr<Encoder> enc,
                     LoadEncoder(ctx, src, {absl::StrCat("options.drop_path_rate=", o_.drop_path() > 0 ? o_.drop_path() : 0.1)}));
    torch::manual_seed(o_.data().seed());
    const int64_t grid = size / enc->patch_size();
    SegDecoder decoder(enc->embed_dim(), grid, size, enc->in_channels(), static_cast<int64_t>(classes.size()),
                       o_.decoder_width() > 0 ? o_.decoder_width() : 32);
    enc->to(ctx.device);
    decoder->to(ctx.device);
    const double lr = o_.lr() > 0 ? o_.lr() : 1e-3, decay = o_.layer_decay() > 0 ? o_.layer_decay() : 0.75;
    const double wd = o_.weight_decay() > 0 ? o_.weight_decay() : 0.05;
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
    const int epochs = o_.epochs() > 0 ? o_.epochs() : 20, bs = o_.batch_size() > 0 ? o_.batch_size() : 8;
    const int channels = static_cast<int>(enc->in_channels());
    std::mt19937_64 rng(o_.data().seed() + 99);
    auto predict = [&](const std::vector<int64_t>& idx) {
      torch::NoGradGuard g;
      enc->eval();
      decoder->eval();
      std::vector<std::vector<uint8_t>> out;
      for (size_t s = 0; s < idx.size(); s += 16) {
        std::vector<int64_t> chunk(idx.begin() + s, idx.begin() + std::min(idx.size(), s + 16));
        auto x = ToTensor(data.images, chunk, channels, o_.data().normalization()).to(ctx.device);
        auto prob = decoder(enc->Forward(x), x).sigmoid().to(torch::kCPU).contiguous();
        const int64_t per = prob.numel() / prob.size(0);
        for (int64_t b = 0; b < prob.size(0); ++b) {
          std::vector<uint8_t> m(per);
          const float* p = prob.data_ptr<float>() + b * per;
          for (int64_t k = 0; k < per; ++k) m[k] = p[k] >= 0.5f;
          out.push_back(std::move(m));
        }
      }
      return out;
    };
    auto mean_dice = [&](const std::vector<int64_t>& idx, const std::vector<std::vector<uint8_t>>& pred) {
      double sum = 0;
      const size_t plane = static_cast<size_t>(size) * size;
      for (size_t i = 0; i < idx.size(); ++i)
        for (size_t c = 0; c < classes.size(); ++c) {
          std::vector<uint8_t> p(pred[i].begin() + c * plane, pred[i].begin() + (c + 1) * plane);
          std::vector<uint8_t> t(data.masks[idx[i]].begin() + classes[c] * plane,
                                 data.masks[idx[i]].begin() + (classes[c] + 1) * plane);
          sum += Dice(p, t);
        }
      return sum / (idx.size() * classes.size());
    };
    double best = -1;
    BestState best_state({enc.get(), decoder.ptr().get()});
    for (int e = 0; e < epochs; ++e) {
      std::vector<int64_t> order = data.train;
      std::shuffle(order.begin(), order.end(), rng);
      if (!o_.freeze_encoder()) enc->train();
      decoder->train();
      for (size_t s = 0; s + 1 < order.size(); s += bs) {
        std::vector<int64_t> idx(order.begin() + s, order.begin() + std::min(order.size(), s + bs));
        if (idx.size() < 2) break;  // batch norm needs two samples
        auto x = ToTensor(data.images, idx, channels, o_.data().normalization()).to(ctx.device);
        auto y = MaskTensor(data, idx, classes, size).to(ctx.device);
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
      const double v = mean_dice(data.val, predict(data.val));
      LOG(INFO) << "segmentation '" << src.name() << "' epoch " << e << ": validation Dice " << v;
      if (v > best) {
        best = v;
        best_state.Save();
      }
    }
    best_state.Restore();
    return predict(data.test);
  }

  absl::StatusOr<EvalReport> Write(const EvalContext& ctx, const TaskData& data, const std::vector<int>& classes,
                                   int size, const std::vector<std::string>& names,
                                   const std::vector<std::vector<std::vector<uint8_t>>>& preds) {
    const size_t plane = static_cast<size_t>(size) * size;
    const int64_t nt = static_cast<int64_t>(data.test.size());
    const int resamples = o_.data().bootstrap() > 0 ? o_.data().bootstrap() : 1000;
    // Per test image and class: Dice and IoU.
    auto per_image = [&](size_t e, bool iou) {
      std::vector<std::vector<double>> v(classes.size(), std::vector<double>(nt));
      for (int64_t i = 0; i < nt; ++i)
        for (size_t c = 0; c < classes.size(); ++c) {
          std::vector<uint8_t> p(preds[e][i].begin() + c * plane, preds[e][i].begin() + (c + 1) * plane);
          std::vector<uint8_t> t(data.masks[data.test[i]].begin() + classes[c] * plane,
                                 data.masks[data.test[i]].begin() + (classes[c] + 1) * plane);
          v[c][i] = iou ? Iou(p, t) : Dice(p, t);
        }
      return v;
    };
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
    auto dice0 = per_image(0, false);
    for (size_t e = 0; e < names.size(); ++e) {
      auto dice = per_image(e, false), iou = per_image(e, true);
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
    // Overlays: image in grey, truth in green, first encoder's prediction in red (first class).
    const int shown = std::min<int>(o_.overlays() > 0 ? o_.overlays() : 4, static_cast<int>(nt));
    std::vector<uint8_t> rgb(static_cast<size_t>(size) * size * shown * 3);
    for (int i = 0; i < shown; ++i)
      for (int y = 0; y < size; ++y)
        for (int x = 0; x < size; ++x) {
          const size_t k = static_cast<size_t>(y) * size + x;
          const float g = std::clamp(data.images[data.test[i]].pixels[k], 0.f, 1.f) * 255.f;
          const bool truth = data.masks[data.test[i]][classes[0] * plane + k], pred = preds[0][i][k];
          uint8_t* px = &rgb[((static_cast<size_t>(y) * size * shown) + static_cast<size_t>(i) * size + x) * 3];
          px[0] = static_cast<uint8_t>(pred ? 0.5f * g + 127 : g);
          px[1] = static_cast<uint8_t>(truth ? 0.5f * g + 127 : g);
          px[2] = static_cast<uint8_t>(g * (pred || truth ? 0.5f : 1.f));
        }
    const std::string dir = ctx.run_dir + "/eval";
    RETURN_IF_ERROR(MakeDirectories(dir));
    RETURN_IF_ERROR(WriteFileAtomically(dir + "/" + name + ".json", json));
    RETURN_IF_ERROR(WriteFileAtomically(dir + "/" + name + ".md", md));
    if (shown > 0) {
      ASSIGN_OR_RETURN(std::string png, EncodePngRgb(rgb, size, size * shown));
      const int scale = std::max(1, 192 / size);  // small inputs shown enlarged
      RETURN_IF_ERROR(WriteFileAtomically(
          dir + "/" + name + "_overlays.svg",
          RenderImageSvg(absl::StrCat("Test images: ", class_names[0], " masks, ", names[0]), png, size * shown * scale,
                         size * scale, {{"truth", "#80ff80"}, {"prediction", "#ff8080"}, {"both", "#ffff80"}},
                         absl::StrCat("The first ", shown, " test images at ", size, " px; prediction thresholded at 0.5."))));
    }
    report.markdown = md;
    return report;
  }

  SegmentationOptions o_;
};

absl::Status ValidateSegmentation(const SegmentationOptions& o) {
  if (!o.data().has_dataset()) return absl::InvalidArgumentError("SegmentationOptions.data.dataset is required");
  if (o.data().shifts_size() > 0) {
    return absl::InvalidArgumentError("SegmentationOptions.data.shifts: appearance shifts apply to the classification evaluators");
  }
  if (o.layer_decay() < 0 || o.layer_decay() > 1) return absl::InvalidArgumentError("SegmentationOptions.layer_decay must be in (0, 1]");
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<Evaluator>> MakeSegmentation(const SegmentationOptions& o) {
  return std::shared_ptr<Evaluator>(std::make_shared<Segmentation>(o));
}

}  // namespace

CHEXWORLD_REGISTER_COMPONENT("evaluator", "segmentation", SegmentationOptions, Evaluator,
                             "UNETR-style conv decoder on the ViT tokens, Dice + BCE, per-image Dice/IoU with CIs",
                             &MakeSegmentation, &ValidateSegmentation);

}  // namespace chexworld
