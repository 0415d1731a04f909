// Registered evaluator "linear_probe": logistic regression on frozen,
// mean-pooled features (one streamed, cached pass per encoder and shift).
#include <glog/logging.h>

#include "chexworld/eval/classification_eval.h"
#include "chexworld/eval/eval_data.h"
#include "chexworld/eval/feature_cache.h"

namespace chexworld {
namespace {

class LinearProbe : public Evaluator {
 public:
  explicit LinearProbe(LinearProbeOptions o) : o_(std::move(o)) {}
  absl::StatusOr<EvalReport> Run(const EvalContext& ctx) override {
    return ScoreEachEncoder("linear_probe", ctx, o_, [&](const EncoderSource& src, const TaskData& data) {
      return Fit(ctx, src, data);
    });
  }

 private:
  absl::StatusOr<Fitted> Fit(const EvalContext& ctx, const EncoderSource& src, const TaskData& data) {
    auto encoder = std::make_shared<LazyEncoder>(ctx, src);
    // The feature matrix is what grows with the dataset: standardised in
    // place and dropped once split, so at most two copies are alive.
    torch::Tensor xtr, xval, xte, mean, std;
    int64_t dim = 0;
    {
      ASSIGN_OR_RETURN(torch::Tensor f, CachedFeatures(ctx, *encoder, data, o_.data(), AllImages(data)));
      f = f.to(torch::kFloat32);
      {
        auto train = Rows(f, data.train);
        mean = train.mean(0);
        std = train.std(0).clamp_min(1e-6);
      }
      f.sub_(mean).div_(std);
      xtr = Rows(f, data.train), xval = Rows(f, data.val), xte = Rows(f, data.test);
      dim = f.size(1);
    }
    torch::manual_seed(o_.data().seed());
    auto linear = torch::nn::Linear(dim, data.c);
    torch::optim::AdamW opt(linear->parameters(),
                            torch::optim::AdamWOptions(DecimalValue(o_.lr())).weight_decay(DecimalValue(o_.weight_decay())));
    auto ytr = Targets(data, data.train);
    double best = -1;
    torch::Tensor best_w, best_b;
    for (int e = 1; e <= o_.epochs(); ++e) {
      opt.zero_grad();
      TaskLoss(linear(xtr), ytr, data.multiclass).backward();
      opt.step();
      if (e % 10 == 0 || e == o_.epochs()) {
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
    out.score = [=, this, &ctx, &data](const ImageSelection& selection) mutable -> absl::StatusOr<std::vector<double>> {
      ASSIGN_OR_RETURN(torch::Tensor shifted, CachedFeatures(ctx, *encoder, data, o_.data(), selection));
      torch::NoGradGuard ng;
      return Probabilities(linear((shifted.to(torch::kFloat32) - mean) / std), multiclass);
    };
    return out;
  }

  LinearProbeOptions o_;
};

// Full-batch AdamW on standardised features: epochs 300, lr 0.01, weight decay 1e-4.
absl::Status Resolve(LinearProbeOptions* o) {
  if (o->epochs() == 0) o->set_epochs(300);
  if (o->lr() == 0) o->set_lr(1e-2f);
  if (o->weight_decay() == 0) o->set_weight_decay(1e-4f);
  if (o->epochs() < 1) return absl::InvalidArgumentError("LinearProbeOptions.epochs must be >= 1");
  return ResolveEvalData(o->mutable_data());
}

absl::StatusOr<std::shared_ptr<Evaluator>> Make(const LinearProbeOptions& o) {
  return std::shared_ptr<Evaluator>(std::make_shared<LinearProbe>(o));
}

}  // namespace

CHEXWORLD_REGISTER_COMPONENT("evaluator", "linear_probe", LinearProbeOptions, Evaluator,
                             "logistic regression on frozen mean-pooled features (cached), bootstrap CIs", &Make,
                             &Resolve);

}  // namespace chexworld
