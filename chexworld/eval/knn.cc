// Registered evaluator "knn": a cosine k-nearest-neighbour vote on frozen
// features (the linear probe's cached pass).
#include "chexworld/eval/classification_eval.h"
#include "chexworld/eval/eval_data.h"
#include "chexworld/eval/feature_cache.h"

namespace chexworld {
namespace {

torch::Tensor Normalize(const torch::Tensor& x) {
  return torch::nn::functional::normalize(x.to(torch::kFloat32), torch::nn::functional::NormalizeFuncOptions().dim(1));
}

class Knn : public Evaluator {
 public:
  explicit Knn(KnnOptions o) : o_(std::move(o)) {}
  absl::StatusOr<EvalReport> Run(const EvalContext& ctx) override {
    return ScoreEachEncoder("knn", ctx, o_, [&](const EncoderSource& src, const TaskData& data) { return Fit(ctx, src, data); });
  }

 private:
  absl::StatusOr<Fitted> Fit(const EvalContext& ctx, const EncoderSource& src, const TaskData& data) {
    auto encoder = std::make_shared<LazyEncoder>(ctx, src);
    ASSIGN_OR_RETURN(torch::Tensor f, CachedFeatures(ctx, *encoder, data, o_.data(), AllImages(data)));
    auto nf = Normalize(f);
    auto train = Rows(nf, data.train);
    auto ytr = Targets(data, data.train);
    auto known = (~torch::isnan(ytr)).to(torch::kFloat32);
    auto yz = torch::nan_to_num(ytr, 0.0);
    const int64_t c = data.c, k = o_.k();
    const double temp = DecimalValue(o_.temperature());
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
    out.score = [=, this, &ctx, &data](const ImageSelection& selection) mutable -> absl::StatusOr<std::vector<double>> {
      ASSIGN_OR_RETURN(torch::Tensor shifted, CachedFeatures(ctx, *encoder, data, o_.data(), selection));
      return vote(Normalize(shifted));
    };
    return out;
  }

  KnnOptions o_;
};

// Neighbours 20, vote temperature 0.07.
absl::Status Resolve(KnnOptions* o) {
  if (o->k() == 0) o->set_k(20);
  if (o->temperature() == 0) o->set_temperature(0.07f);
  if (o->k() < 1) return absl::InvalidArgumentError("KnnOptions.k must be >= 1");
  if (o->temperature() < 0) return absl::InvalidArgumentError("KnnOptions.temperature must be > 0");
  return ResolveEvalData(o->mutable_data());
}

absl::StatusOr<std::shared_ptr<Evaluator>> Make(const KnnOptions& o) {
  return std::shared_ptr<Evaluator>(std::make_shared<Knn>(o));
}

}  // namespace

CHEXWORLD_REGISTER_COMPONENT("evaluator", "knn", KnnOptions, Evaluator,
                             "cosine k-nearest-neighbour vote on frozen features", &Make, &Resolve);

}  // namespace chexworld
