// Registered evaluator "finetune": the whole encoder with a linear head on the
// mean-pooled tokens (official FineTuner 'fc'), layer-wise lr decay, drop
// path, warm-up + cosine, early stopping on validation mean AUROC. Each
// epoch's images stream from the shards through the loader; its workers do
// the crop / flip / jitter augmentation.
#include <cmath>
#include <map>
#include <random>

#include <glog/logging.h>

#include "absl/strings/str_cat.h"
#include "chexworld/data/resize.h"
#include "chexworld/data/transforms/dual_view.h"
#include "chexworld/eval/classification_eval.h"
#include "chexworld/eval/eval_data.h"

namespace chexworld {
namespace {

// One training image's augmentation (RandomResizedCrop, flip, brightness /
// contrast jitter), drawn on the training thread in the order of the epoch so
// the draws do not depend on the loader's threads.
struct Augmentation {
  Box box;
  bool flip = false;
  Action action = kIdentityAction;
  bool jitter = false;
};

Augmentation DrawAugmentation(int size, double scale_min, double jitter, std::mt19937_64& rng) {
  Augmentation a;
  a.box = SampleCropBox(size, size, scale_min, 1.0, 3.0 / 4, 4.0 / 3, rng);
  std::uniform_real_distribution<double> u(0, 1);
  a.flip = u(rng) < 0.5;
  if (jitter > 0) {
    a.jitter = true;
    a.action[0] = static_cast<float>(1 - jitter + 2 * jitter * u(rng));
    a.action[1] = static_cast<float>(1 - jitter + 2 * jitter * u(rng));
  }
  return a;
}

void Apply(const Augmentation& a, GrayImage* image) {
  *image = CropResize(*image, a.box, image->height, image->width, a.flip);
  if (a.jitter) ApplyAppearance(image, a.action);
}

// AdamW parameter groups with layer-wise lr decay (BEiT): patch_embed /
// pos_embed are layer 0, block i layer i + 1, the final norm and the head the
// last; no weight decay on biases and norms. `scales` gets each group's lr factor.
std::vector<torch::optim::OptimizerParamGroup> LayerGroups(Encoder& enc, torch::nn::Linear& head, double decay,
                                                           double wd, std::vector<double>* scales) {
  const int64_t layers = enc.depth() + 1;
  std::map<std::pair<int64_t, bool>, std::vector<torch::Tensor>> by_layer;
  for (const auto& p : enc.named_parameters()) {
    if (!p.value().requires_grad()) continue;
    const std::string& n = p.key();
    int64_t layer = layers;
    if (n.rfind("patch_embed", 0) == 0 || n == "pos_embed") layer = 0;
    else if (n.rfind("blocks.", 0) == 0) layer = std::stoll(n.substr(7, n.find('.', 7) - 7)) + 1;
    const bool no_decay = p.value().dim() <= 1 || (n.size() > 5 && n.compare(n.size() - 5, 5, ".bias") == 0);
    by_layer[{layer, no_decay}].push_back(p.value());
  }
  for (const auto& p : head->named_parameters()) by_layer[{layers, p.value().dim() <= 1}].push_back(p.value());
  std::vector<torch::optim::OptimizerParamGroup> groups;
  for (auto& [key, params] : by_layer) {
    auto opts = std::make_unique<torch::optim::AdamWOptions>(1e-4);
    opts->weight_decay(key.second ? 0.0 : wd);
    groups.emplace_back(params, std::move(opts));
    scales->push_back(std::pow(decay, static_cast<double>(layers - key.first)));
  }
  return groups;
}

class Finetune : public Evaluator {
 public:
  explicit Finetune(FinetuneOptions o) : o_(std::move(o)) {}
  absl::StatusOr<EvalReport> Run(const EvalContext& ctx) override {
    return ScoreEachEncoder("finetune", ctx, o_, [&](const EncoderSource& src, const TaskData& data) {
      return TrainOne(ctx, src, data);
    });
  }

 private:
  absl::StatusOr<Fitted> TrainOne(const EvalContext& ctx, const EncoderSource& src, const TaskData& data);

  FinetuneOptions o_;
};

absl::StatusOr<Fitted> Finetune::TrainOne(const EvalContext& ctx, const EncoderSource& src, const TaskData& data) {
  ASSIGN_OR_RETURN(std::shared_ptr<Encoder> enc,
                   LoadEncoder(ctx, src, {absl::StrCat("options.drop_path_rate=", DecimalValue(o_.drop_path()))}));
  torch::manual_seed(o_.data().seed());
  auto head = torch::nn::Linear(enc->embed_dim(), data.c);
  enc->to(ctx.device);
  head->to(ctx.device);
  std::vector<double> scales;
  torch::optim::AdamW opt(
      LayerGroups(*enc, head, DecimalValue(o_.layer_decay()), DecimalValue(o_.weight_decay()), &scales),
      torch::optim::AdamWOptions(1e-4));
  const int bs = o_.batch_size();
  const int64_t per_epoch = std::max<int64_t>(1, static_cast<int64_t>(data.train.size()) / bs);
  const double lr = DecimalValue(o_.lr()), min_lr = DecimalValue(o_.min_lr());
  const double warm = DecimalValue(o_.warmup_epochs()) * per_epoch;
  const int64_t total = o_.epochs() * per_epoch;
  std::mt19937_64 rng(o_.data().seed() * 31 + 7);
  const bool multiclass = data.multiclass;
  const std::string normalization = o_.data().normalization();
  const torch::Device device = ctx.device;
  // Scores of a selection of images, streamed (the encoder in eval mode).
  auto score = [enc, head, multiclass, normalization, device, &data](const ImageSelection& selection) mutable
      -> absl::StatusOr<std::vector<double>> {
    ASSIGN_OR_RETURN(torch::Tensor pooled, EncodeImages(*enc, data, PassFor(selection, *enc, normalization, device),
                                                        device, /*pooled=*/true));
    torch::NoGradGuard g;
    std::vector<torch::Tensor> logits;  // the head in batches of 64, as the images were scored
    for (int64_t s = 0; s < pooled.size(0); s += 64) {
      logits.push_back(head(pooled.narrow(0, s, std::min<int64_t>(64, pooled.size(0) - s)).to(device)).to(torch::kCPU));
    }
    return Probabilities(torch::cat(logits, 0), multiclass);
  };
  auto rows = [](const std::vector<int64_t>& r) { return ImageSelection{r, nullptr, ""}; };
  double best = -1;
  int since_best = 0;
  BestState best_state({enc.get(), head.get()});
  int64_t it = 0;
  for (int e = 0; e < o_.epochs(); ++e) {
    ImageSelection epoch;
    epoch.rows = data.train;
    std::shuffle(epoch.rows.begin(), epoch.rows.end(), rng);
    epoch.rows.resize(std::min<int64_t>(epoch.rows.size(), per_epoch * bs));  // full batches (the last may be short)
    std::vector<Augmentation> plan;
    for (size_t k = 0; k < epoch.rows.size(); ++k) {
      plan.push_back(DrawAugmentation(data.image_size, DecimalValue(o_.crop_scale_min()), DecimalValue(o_.jitter()), rng));
    }
    epoch.alter = [&plan](int64_t k, GrayImage* image) { Apply(plan[k], image); };
    ImageStream stream(data, PassFor(epoch, *enc, normalization, device, bs));
    enc->train();
    while (true) {
      ASSIGN_OR_RETURN(std::optional<ImageBatch> batch, stream.Next());
      if (!batch) break;
      const double cur = it < warm ? lr * it / warm
                                   : min_lr + (lr - min_lr) * 0.5 * (1 + std::cos(M_PI * (it - warm) / std::max(1.0, total - warm)));
      for (size_t g = 0; g < opt.param_groups().size(); ++g) {
        static_cast<torch::optim::AdamWOptions&>(opt.param_groups()[g].options()).lr(cur * scales[g]);
      }
      const std::vector<int64_t> idx(epoch.rows.begin() + batch->first, epoch.rows.begin() + batch->first + batch->images.size(0));
      auto x = batch->images.to(device, /*non_blocking=*/true);
      auto loss = TaskLoss(head(enc->Forward(x).mean(1)), Targets(data, idx).to(device), multiclass);
      opt.zero_grad();
      loss.backward();
      opt.step();
      ++it;
    }
    ASSIGN_OR_RETURN(std::vector<double> val_scores, score(rows(data.val)));
    const double v = ValScore(data, val_scores);
    LOG(INFO) << "finetune '" << src.name() << "' epoch " << e << ": validation " << v;
    if (v > best) {
      best = v;
      since_best = 0;
      best_state.Save();
    } else if (++since_best >= o_.patience()) {
      LOG(INFO) << "early stop after " << e + 1 << " epochs";
      break;
    }
  }
  best_state.Restore();
  Fitted out;
  ASSIGN_OR_RETURN(out.test_scores, score(rows(data.test)));
  out.score = score;
  return out;
}

// epochs 10, batch 32, lr 1e-4 to 1e-6 after 1 warm-up epoch, weight decay
// 0.05, layer decay 0.75, drop path 0.1, crops of scale (0.4, 1), jitter 0.2,
// patience 5.
absl::Status Resolve(FinetuneOptions* o) {
  if (o->epochs() == 0) o->set_epochs(10);
  if (o->batch_size() == 0) o->set_batch_size(32);
  if (o->lr() == 0) o->set_lr(1e-4f);
  if (o->min_lr() == 0) o->set_min_lr(1e-6f);
  if (o->warmup_epochs() == 0) o->set_warmup_epochs(1);
  if (o->weight_decay() == 0) o->set_weight_decay(0.05f);
  if (o->layer_decay() == 0) o->set_layer_decay(0.75f);
  if (o->drop_path() == 0) o->set_drop_path(0.1f);
  if (o->crop_scale_min() == 0) o->set_crop_scale_min(0.4f);
  if (o->jitter() == 0) o->set_jitter(0.2f);
  if (o->patience() == 0) o->set_patience(5);
  if (o->layer_decay() < 0 || o->layer_decay() > 1) return absl::InvalidArgumentError("FinetuneOptions.layer_decay must be in (0, 1]");
  if (o->epochs() < 1 || o->batch_size() < 1 || o->patience() < 1) {
    return absl::InvalidArgumentError("FinetuneOptions: epochs, batch_size and patience must be >= 1");
  }
  if (o->crop_scale_min() < 0 || o->crop_scale_min() > 1) {
    return absl::InvalidArgumentError("FinetuneOptions.crop_scale_min must be in (0, 1]");
  }
  return ResolveEvalData(o->mutable_data());
}

absl::StatusOr<std::shared_ptr<Evaluator>> Make(const FinetuneOptions& o) {
  return std::shared_ptr<Evaluator>(std::make_shared<Finetune>(o));
}

}  // namespace

CHEXWORLD_REGISTER_COMPONENT("evaluator", "finetune", FinetuneOptions, Evaluator,
                             "full fine-tuning with a linear head, layer-wise lr decay, early stopping", &Make, &Resolve);

}  // namespace chexworld
