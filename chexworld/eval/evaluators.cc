// Registered evaluators: "linear_probe", "knn", "finetune".
#include <cmath>
#include <functional>
#include <numeric>
#include <random>

#include <glog/logging.h>

#include "absl/strings/str_cat.h"
#include "chexworld/core/status_macros.h"
#include "chexworld/data/resize.h"
#include "chexworld/data/transforms/dual_view.h"
#include "chexworld/eval/evaluator.h"
#include "chexworld/eval/feature_cache.h"
#include "chexworld/eval/shifts.h"

namespace chexworld {
namespace {

std::string ReportName(const std::string& evaluator, const EvalData& d) {
  return d.tag().empty() ? evaluator : evaluator + "_" + d.tag();
}


torch::Tensor Rows(const torch::Tensor& t, const std::vector<int64_t>& idx) {
  return t.index_select(0, torch::tensor(idx, torch::kInt64));
}

torch::Tensor Targets(const TaskData& d, const std::vector<int64_t>& idx) {
  std::vector<float> v;
  for (int64_t i : idx)
    for (int64_t k = 0; k < d.c; ++k) v.push_back(static_cast<float>(d.targets[i * d.c + k]));
  return torch::tensor(v).reshape({static_cast<int64_t>(idx.size()), d.c});
}

// Loss over logits (B, C): cross-entropy for multi-class, masked BCE otherwise.
torch::Tensor TaskLoss(const torch::Tensor& logits, const torch::Tensor& y, bool multiclass) {
  if (multiclass) return torch::nn::functional::cross_entropy(logits, y.argmax(1));
  auto known = ~torch::isnan(y);
  auto yy = torch::where(known, y, torch::zeros_like(y));
  auto l = torch::binary_cross_entropy_with_logits(logits, yy, {}, {}, at::Reduction::None);
  return (l * known).sum() / known.sum().clamp_min(1);
}

std::vector<double> Probabilities(const torch::Tensor& logits, bool multiclass) {
  auto p = (multiclass ? logits.softmax(1) : logits.sigmoid()).to(torch::kFloat64).contiguous();
  return std::vector<double>(p.data_ptr<double>(), p.data_ptr<double>() + p.numel());
}

// Validation score for model selection: mean AUROC, or accuracy if undefined.
double ValScore(const TaskData& d, const std::vector<double>& scores) {
  std::vector<double> labels;
  for (int64_t i : d.val)
    for (int64_t k = 0; k < d.c; ++k) labels.push_back(d.targets[i * d.c + k]);
  ClassificationMetrics m = Classify(scores, labels, static_cast<int64_t>(d.val.size()), d.c, d.multiclass);
  return std::isnan(m.mean_auroc) ? m.accuracy : m.mean_auroc;
}

absl::StatusOr<torch::Tensor> Features(const EvalContext& ctx, const EncoderSource& src, const TaskData& data,
                                       const EvalData& d) {
  const std::string key = FeatureCacheKey(ctx, src, data, d);
  const std::string path = ctx.run_dir + "/eval/features-" + key + ".h5";
  if (auto cached = ReadFeatureCache(path, data.n); cached.ok()) {
    LOG(INFO) << "features of '" << src.name() << "' from cache " << path;
    return *cached;
  }
  ASSIGN_OR_RETURN(std::shared_ptr<Encoder> enc, LoadEncoder(ctx, src));
  enc->to(ctx.device);
  torch::Tensor f = ExtractFeatures(*enc, data, d.normalization(), ctx.device);
  RETURN_IF_ERROR(WriteFeatureCache(path, f, src.name()));
  return f;
}

// What an evaluator fits for one encoder source: the test split's scores
// (probabilities, test rows x classes) and a way to score other images (the
// shifted copies of the test images, EvalData.shifts).
struct Fitted {
  std::vector<double> test_scores;
  std::function<absl::StatusOr<std::vector<double>>(const std::vector<GrayImage>&)> score_images;
};

// The frame of every classification evaluator: load the task once, fit each
// encoder source (the pretrained one when none is listed), score the test
// images and each appearance shift of them, write one report comparing the
// encoders. Options are any message with `data` and `encoders`.
template <typename Options, typename FitFn>
absl::StatusOr<EvalReport> ScoreEachEncoder(const char* kind, const EvalContext& ctx, const Options& o, FitFn fit) {
  ASSIGN_OR_RETURN(std::vector<ShiftLevel> levels, ExpandShifts(o.data()));
  ASSIGN_OR_RETURN(int size, InputSize(ctx, o.data()));
  ASSIGN_OR_RETURN(TaskData data, LoadTaskData(o.data(), size));
  LOG(INFO) << kind << ": " << data.description;
  std::vector<std::string> names;
  std::vector<std::vector<double>> scores;
  std::vector<Fitted> fitted;
  for (const EncoderSource& src : SourcesOrPretrained(o.encoders())) {
    ASSIGN_OR_RETURN(Fitted f, fit(src, data));
    names.push_back(src.name());
    scores.push_back(f.test_scores);
    fitted.push_back(std::move(f));
  }
  ShiftScores shifted;
  shifted.levels = levels;
  shifted.scores.resize(fitted.size());
  for (size_t l = 0; l < levels.size(); ++l) {
    std::vector<GrayImage> images;
    for (size_t k = 0; k < data.test.size(); ++k) {
      images.push_back(ApplyShift(data.images[data.test[k]], levels[l], o.data().shift_seed(), static_cast<int64_t>(k)));
    }
    for (size_t e = 0; e < fitted.size(); ++e) {
      ASSIGN_OR_RETURN(std::vector<double> s, fitted[e].score_images(images));
      shifted.scores[e].push_back(std::move(s));
    }
    LOG(INFO) << kind << ": scored shift " << levels[l].label();
  }
  return Report(ReportName(kind, o.data()), ctx, data, names, scores, o.data().bootstrap(),
                levels.empty() ? nullptr : &shifted);
}

std::vector<int64_t> AllRows(size_t n) {
  std::vector<int64_t> v(n);
  std::iota(v.begin(), v.end(), 0);
  return v;
}

// ---------------------------------------------------------------- linear probe
class LinearProbe : public Evaluator {
 public:
  explicit LinearProbe(LinearProbeOptions o) : o_(std::move(o)) {}
  absl::StatusOr<EvalReport> Run(const EvalContext& ctx) override {
    return ScoreEachEncoder("linear_probe", ctx, o_, [&](const EncoderSource& src, const TaskData& data) -> absl::StatusOr<Fitted> {
      ASSIGN_OR_RETURN(torch::Tensor f, Features(ctx, src, data, o_.data()));
      auto train = Rows(f, data.train);
      auto mean = train.mean(0), std = train.std(0).clamp_min(1e-6);
      auto norm = (f - mean) / std;
      torch::manual_seed(o_.data().seed());
      auto linear = torch::nn::Linear(f.size(1), data.c);
      torch::optim::AdamW opt(linear->parameters(), torch::optim::AdamWOptions(o_.lr() > 0 ? o_.lr() : 1e-2)
                                                        .weight_decay(o_.weight_decay() > 0 ? o_.weight_decay() : 1e-4));
      auto xtr = Rows(norm, data.train), ytr = Targets(data, data.train);
      auto xval = Rows(norm, data.val), xte = Rows(norm, data.test);
      const int epochs = o_.epochs() > 0 ? o_.epochs() : 300;
      double best = -1;
      torch::Tensor best_w, best_b;
      for (int e = 1; e <= epochs; ++e) {
        opt.zero_grad();
        TaskLoss(linear(xtr), ytr, data.multiclass).backward();
        opt.step();
        if (e % 10 == 0 || e == epochs) {
          torch::NoGradGuard g;
          const double v = ValScore(data, Probabilities(linear(xval), data.multiclass));
          if (v > best || best_w.numel() == 0) {
            best = v;
            best_w = linear->weight.detach().clone();
            best_b = linear->bias.detach().clone();
          }
        }
      }
      torch::NoGradGuard g;
      linear->weight.copy_(best_w);
      linear->bias.copy_(best_b);
      LOG(INFO) << "linear probe '" << src.name() << "': best validation score " << best;
      Fitted out;
      out.test_scores = Probabilities(linear(xte), data.multiclass);
      const bool multiclass = data.multiclass;
      std::shared_ptr<Encoder> enc;  // loaded on the first shifted set
      out.score_images = [=, this, &ctx](const std::vector<GrayImage>& images) mutable -> absl::StatusOr<std::vector<double>> {
        if (enc == nullptr) {
          ASSIGN_OR_RETURN(enc, LoadEncoder(ctx, src));
          enc->to(ctx.device);
        }
        torch::NoGradGuard ng;
        auto x = (EncodeImages(*enc, images, o_.data().normalization(), ctx.device, /*pooled=*/true) - mean) / std;
        return Probabilities(linear(x), multiclass);
      };
      return out;
    });
  }

 private:
  LinearProbeOptions o_;
};

// ---------------------------------------------------------------- k-NN
class Knn : public Evaluator {
 public:
  explicit Knn(KnnOptions o) : o_(std::move(o)) {}
  absl::StatusOr<EvalReport> Run(const EvalContext& ctx) override {
    const int k = o_.k() > 0 ? o_.k() : 20;
    const double temp = o_.temperature() > 0 ? o_.temperature() : 0.07;
    return ScoreEachEncoder("knn", ctx, o_, [&](const EncoderSource& src, const TaskData& data) -> absl::StatusOr<Fitted> {
      ASSIGN_OR_RETURN(torch::Tensor f, Features(ctx, src, data, o_.data()));
      auto normalize = [](const torch::Tensor& x) {
        return torch::nn::functional::normalize(x, torch::nn::functional::NormalizeFuncOptions().dim(1));
      };
      auto nf = normalize(f);
      auto train = Rows(nf, data.train);
      auto ytr = Targets(data, data.train);
      auto known = (~torch::isnan(ytr)).to(torch::kFloat32);
      auto yz = torch::nan_to_num(ytr, 0.0);
      const int64_t c = data.c;
      auto vote = [=](const torch::Tensor& test) {
        auto sims = torch::matmul(test, train.t());  // (T, N)
        const int64_t kk = std::min<int64_t>(k, train.size(0));
        auto top = sims.topk(kk, 1);
        auto w = (std::get<0>(top) / temp).exp();  // (T, k)
        auto idx = std::get<1>(top);
        auto yk = yz.index_select(0, idx.flatten()).reshape({test.size(0), kk, c});
        auto mk = known.index_select(0, idx.flatten()).reshape({test.size(0), kk, c});
        auto num = (w.unsqueeze(-1) * yk * mk).sum(1), den = (w.unsqueeze(-1) * mk).sum(1).clamp_min(1e-12);
        auto s = (num / den).to(torch::kFloat64).contiguous();
        return std::vector<double>(s.data_ptr<double>(), s.data_ptr<double>() + s.numel());
      };
      Fitted out;
      out.test_scores = vote(Rows(nf, data.test));
      std::shared_ptr<Encoder> enc;
      out.score_images = [=, this, &ctx](const std::vector<GrayImage>& images) mutable -> absl::StatusOr<std::vector<double>> {
        if (enc == nullptr) {
          ASSIGN_OR_RETURN(enc, LoadEncoder(ctx, src));
          enc->to(ctx.device);
        }
        return vote(normalize(EncodeImages(*enc, images, o_.data().normalization(), ctx.device, /*pooled=*/true)));
      };
      return out;
    });
  }

 private:
  KnnOptions o_;
};

// ---------------------------------------------------------------- fine-tuning
GrayImage Augment(const GrayImage& img, double scale_min, double jitter, std::mt19937_64& rng) {
  Box b = SampleCropBox(img.height, img.width, scale_min, 1.0, 3.0 / 4, 4.0 / 3, rng);
  std::uniform_real_distribution<double> u(0, 1);
  GrayImage out = CropResize(img, b, img.height, img.width, u(rng) < 0.5);
  if (jitter > 0) {
    Action a = kIdentityAction;
    a[0] = static_cast<float>(1 - jitter + 2 * jitter * u(rng));
    a[1] = static_cast<float>(1 - jitter + 2 * jitter * u(rng));
    ApplyAppearance(&out, a);
  }
  return out;
}

class Finetune : public Evaluator {
 public:
  explicit Finetune(FinetuneOptions o) : o_(std::move(o)) {}
  absl::StatusOr<EvalReport> Run(const EvalContext& ctx) override {
    return ScoreEachEncoder("finetune", ctx, o_,
                            [&](const EncoderSource& src, const TaskData& data) { return TrainOne(ctx, src, data); });
  }

 private:
  absl::StatusOr<Fitted> TrainOne(const EvalContext& ctx, const EncoderSource& src, const TaskData& data) {
    const double drop = o_.drop_path() > 0 ? o_.drop_path() : 0.1;
    ASSIGN_OR_RETURN(std::shared_ptr<Encoder> enc,
                     LoadEncoder(ctx, src, {absl::StrCat("options.drop_path_rate=", drop)}));
    torch::manual_seed(o_.data().seed());
    auto head = torch::nn::Linear(enc->embed_dim(), data.c);
    enc->to(ctx.device);
    head->to(ctx.device);
    // Layer-wise lr decay (BEiT): patch_embed/pos_embed layer 0, block i layer i+1, norm/head last.
    const double decay = o_.layer_decay() > 0 ? o_.layer_decay() : 0.75;
    const int64_t layers = enc->depth() + 1;
    std::vector<torch::optim::OptimizerParamGroup> groups;
    std::vector<double> scales;
    const double wd = o_.weight_decay() > 0 ? o_.weight_decay() : 0.05;
    std::map<std::pair<int64_t, bool>, std::vector<torch::Tensor>> by_layer;
    for (const auto& p : enc->named_parameters()) {
      if (!p.value().requires_grad()) continue;
      const std::string& n = p.key();
      int64_t layer = layers;
      if (n.rfind("patch_embed", 0) == 0 || n == "pos_embed") layer = 0;
      else if (n.rfind("blocks.", 0) == 0) layer = std::stoll(n.substr(7, n.find('.', 7) - 7)) + 1;
      const bool no_decay = p.value().dim() <= 1 || (n.size() > 5 && n.compare(n.size() - 5, 5, ".bias") == 0);
      by_layer[{layer, no_decay}].push_back(p.value());
    }
    for (const auto& p : head->named_parameters()) by_layer[{layers, p.value().dim() <= 1}].push_back(p.value());
    for (auto& [key, params] : by_layer) {
      auto opts = std::make_unique<torch::optim::AdamWOptions>(1e-4);
      opts->weight_decay(key.second ? 0.0 : wd);
      groups.emplace_back(params, std::move(opts));
      scales.push_back(std::pow(decay, static_cast<double>(layers - key.first)));
    }
    torch::optim::AdamW opt(groups, torch::optim::AdamWOptions(1e-4));
    const int epochs = o_.epochs() > 0 ? o_.epochs() : 10;
    const int bs = o_.batch_size() > 0 ? o_.batch_size() : 32;
    const int64_t per_epoch = std::max<int64_t>(1, static_cast<int64_t>(data.train.size()) / bs);
    const double lr = o_.lr() > 0 ? o_.lr() : 1e-4, min_lr = o_.min_lr() > 0 ? o_.min_lr() : 1e-6;
    const double warm = (o_.warmup_epochs() > 0 ? o_.warmup_epochs() : 1) * per_epoch;
    const int64_t total = epochs * per_epoch;
    const int patience = o_.patience() > 0 ? o_.patience() : 5;
    const int channels = static_cast<int>(enc->in_channels());
    std::mt19937_64 rng(o_.data().seed() * 31 + 7);
    const bool multiclass = data.multiclass;
    const std::string normalization = o_.data().normalization();
    const torch::Device device = ctx.device;
    auto score_images = [enc, head, channels, multiclass, normalization, device](const std::vector<GrayImage>& images) mutable {
      torch::NoGradGuard g;
      enc->eval();
      std::vector<torch::Tensor> out;
      const std::vector<int64_t> all = AllRows(images.size());
      for (size_t s = 0; s < all.size(); s += 64) {
        std::vector<int64_t> chunk(all.begin() + s, all.begin() + std::min(all.size(), s + 64));
        auto x = ToTensor(images, chunk, channels, normalization).to(device);
        out.push_back(head(enc->Forward(x).mean(1)).to(torch::kCPU));
      }
      return Probabilities(torch::cat(out, 0), multiclass);
    };
    auto score = [&](const std::vector<int64_t>& idx) {
      std::vector<GrayImage> images;
      for (int64_t i : idx) images.push_back(data.images[i]);
      return score_images(images);
    };
    double best = -1;
    int since_best = 0;
    BestState best_state({enc.get(), head.get()});
    int64_t it = 0;
    for (int e = 0; e < epochs; ++e) {
      std::vector<int64_t> order = data.train;
      std::shuffle(order.begin(), order.end(), rng);
      enc->train();
      for (int64_t b = 0; b < per_epoch; ++b, ++it) {
        const double cur = it < warm ? lr * it / warm
                                     : min_lr + (lr - min_lr) * 0.5 * (1 + std::cos(M_PI * (it - warm) / std::max(1.0, total - warm)));
        for (size_t g = 0; g < opt.param_groups().size(); ++g) {
          static_cast<torch::optim::AdamWOptions&>(opt.param_groups()[g].options()).lr(cur * scales[g]);
        }
        std::vector<GrayImage> imgs;
        std::vector<int64_t> idx(order.begin() + b * bs, order.begin() + std::min<int64_t>(order.size(), (b + 1) * bs));
        std::vector<int64_t> local;
        for (int64_t i : idx) {
          imgs.push_back(Augment(data.images[i], o_.crop_scale_min() > 0 ? o_.crop_scale_min() : 0.4,
                                 o_.jitter() > 0 ? o_.jitter() : 0.2, rng));
          local.push_back(static_cast<int64_t>(local.size()));
        }
        auto x = ToTensor(imgs, local, channels, o_.data().normalization()).to(ctx.device);
        auto loss = TaskLoss(head(enc->Forward(x).mean(1)), Targets(data, idx).to(ctx.device), data.multiclass);
        opt.zero_grad();
        loss.backward();
        opt.step();
      }
      const double v = ValScore(data, score(data.val));
      LOG(INFO) << "finetune '" << src.name() << "' epoch " << e << ": validation " << v;
      if (v > best) {
        best = v;
        since_best = 0;
        best_state.Save();
      } else if (++since_best >= patience) {
        LOG(INFO) << "early stop after " << e + 1 << " epochs";
        break;
      }
    }
    best_state.Restore();
    Fitted out;
    out.test_scores = score(data.test);
    out.score_images = [score_images](const std::vector<GrayImage>& images) mutable -> absl::StatusOr<std::vector<double>> {
      return score_images(images);
    };
    return out;
  }

  FinetuneOptions o_;
};

// ---------------------------------------------------------------- attentive probe
// One learned query cross-attends over the frozen tokens (pre-norm, MLP), then
// a linear head: the official attentive pooler ('attn' head).
struct AttentivePoolerImpl : torch::nn::Module {
  AttentivePoolerImpl(int64_t dim, int64_t heads, int64_t classes) {
    query = register_parameter("query", torch::randn({1, 1, dim}) * 0.02);
    norm_q = register_module("norm_q", torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim}).eps(1e-6)));
    norm_kv = register_module("norm_kv", torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim}).eps(1e-6)));
    attn = register_module("attn", torch::nn::MultiheadAttention(torch::nn::MultiheadAttentionOptions(dim, heads)));
    norm_mlp = register_module("norm_mlp", torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim}).eps(1e-6)));
    fc1 = register_module("fc1", torch::nn::Linear(dim, 4 * dim));
    fc2 = register_module("fc2", torch::nn::Linear(4 * dim, dim));
    head = register_module("head", torch::nn::Linear(dim, classes));
  }
  torch::Tensor forward(const torch::Tensor& tokens) {  // (B, N, D) -> (B, C)
    auto kv = norm_kv(tokens).transpose(0, 1);           // (N, B, D)
    auto q = norm_q(query.expand({tokens.size(0), -1, -1})).transpose(0, 1);
    auto x = query.expand({tokens.size(0), -1, -1}) + std::get<0>(attn(q, kv, kv)).transpose(0, 1);
    x = x + fc2(torch::gelu(fc1(norm_mlp(x))));
    return head(x.squeeze(1));
  }
  torch::Tensor query;
  torch::nn::LayerNorm norm_q{nullptr}, norm_kv{nullptr}, norm_mlp{nullptr};
  torch::nn::MultiheadAttention attn{nullptr};
  torch::nn::Linear fc1{nullptr}, fc2{nullptr}, head{nullptr};
};

class AttentiveProbe : public Evaluator {
 public:
  explicit AttentiveProbe(AttentiveProbeOptions o) : o_(std::move(o)) {}
  absl::StatusOr<EvalReport> Run(const EvalContext& ctx) override {
    return ScoreEachEncoder("attentive_probe", ctx, o_, [&](const EncoderSource& src, const TaskData& data) -> absl::StatusOr<Fitted> {
      ASSIGN_OR_RETURN(std::shared_ptr<Encoder> enc, LoadEncoder(ctx, src));
      enc->to(ctx.device);
      enc->eval();
      // Frozen tokens of every image, once.
      std::vector<torch::Tensor> parts;
      {
        torch::NoGradGuard g;
        for (int64_t s = 0; s < data.n; s += 64) {
          std::vector<int64_t> idx;
          for (int64_t i = s; i < std::min<int64_t>(data.n, s + 64); ++i) idx.push_back(i);
          parts.push_back(enc->Forward(ToTensor(data.images, idx, static_cast<int>(enc->in_channels()),
                                                o_.data().normalization()).to(ctx.device)).to(torch::kCPU));
        }
      }
      auto tokens = torch::cat(parts, 0);
      torch::manual_seed(o_.data().seed());
      auto pooler = std::make_shared<AttentivePoolerImpl>(enc->embed_dim(),
                                                          o_.num_heads() > 0 ? o_.num_heads() : enc->num_heads(), data.c);
      torch::optim::AdamW opt(pooler->parameters(), torch::optim::AdamWOptions(o_.lr() > 0 ? o_.lr() : 1e-3)
                                                        .weight_decay(o_.weight_decay() > 0 ? o_.weight_decay() : 0.05));
      const int epochs = o_.epochs() > 0 ? o_.epochs() : 20, bs = o_.batch_size() > 0 ? o_.batch_size() : 64;
      std::mt19937_64 rng(o_.data().seed() + 5);
      auto predict = [&](const std::vector<int64_t>& idx) {
        torch::NoGradGuard g;
        return Probabilities(pooler->forward(Rows(tokens, idx)), data.multiclass);
      };
      double best = -1;
      BestState best_state({pooler.get()});
      for (int e = 0; e < epochs; ++e) {
        std::vector<int64_t> order = data.train;
        std::shuffle(order.begin(), order.end(), rng);
        for (size_t s = 0; s < order.size(); s += bs) {
          std::vector<int64_t> idx(order.begin() + s, order.begin() + std::min(order.size(), s + bs));
          auto loss = TaskLoss(pooler->forward(Rows(tokens, idx)), Targets(data, idx), data.multiclass);
          opt.zero_grad();
          loss.backward();
          opt.step();
        }
        const double v = ValScore(data, predict(data.val));
        if (v > best) {
          best = v;
          best_state.Save();
        }
      }
      best_state.Restore();
      Fitted out;
      out.test_scores = predict(data.test);
      const bool multiclass = data.multiclass;
      const std::string normalization = o_.data().normalization();
      const torch::Device device = ctx.device;
      out.score_images = [enc, pooler, multiclass, normalization, device](const std::vector<GrayImage>& images)
          -> absl::StatusOr<std::vector<double>> {
        torch::NoGradGuard g;
        return Probabilities(pooler->forward(EncodeImages(*enc, images, normalization, device, /*pooled=*/false)), multiclass);
      };
      return out;
    });
  }

 private:
  AttentiveProbeOptions o_;
};

absl::Status ValidateData(const EvalData& d) {
  if (!d.has_dataset()) return absl::InvalidArgumentError("EvalData.dataset is required");
  if (!d.split().empty() && d.split() != "random" && d.split() != "stored") {
    return absl::InvalidArgumentError(absl::StrCat("EvalData.split '", d.split(), "' is not random or stored"));
  }
  if (!d.label_space().empty() && d.label_space() != "as_packed" && d.label_space() != "canonical") {
    return absl::InvalidArgumentError(absl::StrCat("EvalData.label_space '", d.label_space(), "' is not as_packed or canonical"));
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
  if (d.label_fraction() < 0 || d.label_fraction() > 1) return absl::InvalidArgumentError("EvalData.label_fraction must be in (0, 1]");
  const std::string t = d.task();
  if (!t.empty() && t != "auto" && t != "multilabel" && t != "multiclass" && t != "binary") {
    return absl::InvalidArgumentError(absl::StrCat("EvalData.task '", t, "' is not auto, multilabel, multiclass or binary"));
  }
  return absl::OkStatus();
}

absl::Status ValidateLinear(const LinearProbeOptions& o) { return ValidateData(o.data()); }
absl::Status ValidateKnn(const KnnOptions& o) { return ValidateData(o.data()); }
absl::Status ValidateFinetune(const FinetuneOptions& o) {
  if (o.layer_decay() < 0 || o.layer_decay() > 1) return absl::InvalidArgumentError("FinetuneOptions.layer_decay must be in (0, 1]");
  return ValidateData(o.data());
}

absl::Status ValidateAttentive(const AttentiveProbeOptions& o) { return ValidateData(o.data()); }
absl::StatusOr<std::shared_ptr<Evaluator>> MakeAttentive(const AttentiveProbeOptions& o) {
  return std::shared_ptr<Evaluator>(std::make_shared<AttentiveProbe>(o));
}

absl::StatusOr<std::shared_ptr<Evaluator>> MakeLinear(const LinearProbeOptions& o) {
  return std::shared_ptr<Evaluator>(std::make_shared<LinearProbe>(o));
}
absl::StatusOr<std::shared_ptr<Evaluator>> MakeKnn(const KnnOptions& o) {
  return std::shared_ptr<Evaluator>(std::make_shared<Knn>(o));
}
absl::StatusOr<std::shared_ptr<Evaluator>> MakeFinetune(const FinetuneOptions& o) {
  return std::shared_ptr<Evaluator>(std::make_shared<Finetune>(o));
}

}  // namespace

CHEXWORLD_REGISTER_COMPONENT("evaluator", "linear_probe", LinearProbeOptions, Evaluator,
                             "logistic regression on frozen mean-pooled features (cached), bootstrap CIs",
                             &MakeLinear, &ValidateLinear);
CHEXWORLD_REGISTER_COMPONENT("evaluator", "attentive_probe", AttentiveProbeOptions, Evaluator,
                             "learned-query cross-attention pooling of frozen tokens + linear head", &MakeAttentive,
                             &ValidateAttentive);
CHEXWORLD_REGISTER_COMPONENT("evaluator", "knn", KnnOptions, Evaluator,
                             "cosine k-nearest-neighbour vote on frozen features", &MakeKnn, &ValidateKnn);
CHEXWORLD_REGISTER_COMPONENT("evaluator", "finetune", FinetuneOptions, Evaluator,
                             "full fine-tuning with a linear head, layer-wise lr decay, early stopping",
                             &MakeFinetune, &ValidateFinetune);

}  // namespace chexworld
