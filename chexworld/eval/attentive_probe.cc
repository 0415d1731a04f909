// Registered evaluator "attentive_probe": a learned query attends over the
// frozen encoder's tokens (one cross-attention block with MLP, as the
// official attentive pooler), then a linear head. The tokens come from one
// streamed pass (float16 with EvalData.feature_precision).
#include <random>

#include "chexworld/eval/classification_eval.h"
#include "chexworld/eval/eval_data.h"

namespace chexworld {
namespace {

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
  torch::Tensor forward(const torch::Tensor& frozen) {  // (B, N, D) -> (B, C)
    const torch::Tensor tokens = frozen.to(torch::kFloat32);
    auto kv = norm_kv(tokens).transpose(0, 1);  // (N, B, D)
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
    return ScoreEachEncoder("attentive_probe", ctx, o_, [&](const EncoderSource& src, const TaskData& data) {
      return Fit(ctx, src, data);
    });
  }

 private:
  absl::StatusOr<Fitted> Fit(const EvalContext& ctx, const EncoderSource& src, const TaskData& data) {
    ASSIGN_OR_RETURN(std::shared_ptr<Encoder> enc, LoadEncoder(ctx, src));
    enc->to(ctx.device);
    const std::string normalization = o_.data().normalization();
    const torch::Device device = ctx.device;
    const auto dtype = o_.data().feature_precision() == "float16" ? torch::kHalf : torch::kFloat32;
    // Frozen tokens of every image, one pass.
    ASSIGN_OR_RETURN(torch::Tensor tokens, EncodeImages(*enc, data, PassFor(AllImages(data), *enc, normalization, device),
                                                        device, /*pooled=*/false, dtype));
    torch::manual_seed(o_.data().seed());
    auto pooler = std::make_shared<AttentivePoolerImpl>(enc->embed_dim(),
                                                        o_.num_heads() > 0 ? o_.num_heads() : enc->num_heads(), data.c);
    torch::optim::AdamW opt(pooler->parameters(), torch::optim::AdamWOptions(DecimalValue(o_.lr()))
                                                      .weight_decay(DecimalValue(o_.weight_decay())));
    std::mt19937_64 rng(o_.data().seed() + 5);
    auto predict = [&](const std::vector<int64_t>& idx) {
      torch::NoGradGuard g;
      return Probabilities(pooler->forward(Rows(tokens, idx)), data.multiclass);
    };
    double best = -1;
    BestState best_state({pooler.get()});
    for (int e = 0; e < o_.epochs(); ++e) {
      std::vector<int64_t> order = data.train;
      std::shuffle(order.begin(), order.end(), rng);
      for (size_t s = 0; s < order.size(); s += o_.batch_size()) {
        std::vector<int64_t> idx(order.begin() + s, order.begin() + std::min<size_t>(order.size(), s + o_.batch_size()));
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
    out.score = [enc, pooler, multiclass, normalization, device, dtype, &data](const ImageSelection& selection)
        -> absl::StatusOr<std::vector<double>> {
      ASSIGN_OR_RETURN(torch::Tensor shifted, EncodeImages(*enc, data, PassFor(selection, *enc, normalization, device),
                                                           device, /*pooled=*/false, dtype));
      torch::NoGradGuard g;
      return Probabilities(pooler->forward(shifted), multiclass);
    };
    return out;
  }

  AttentiveProbeOptions o_;
};

// epochs 20, batch 64, lr 1e-3, weight decay 0.05; heads: the encoder's (0).
absl::Status Resolve(AttentiveProbeOptions* o) {
  if (o->epochs() == 0) o->set_epochs(20);
  if (o->batch_size() == 0) o->set_batch_size(64);
  if (o->lr() == 0) o->set_lr(1e-3f);
  if (o->weight_decay() == 0) o->set_weight_decay(0.05f);
  if (o->epochs() < 1 || o->batch_size() < 1 || o->num_heads() < 0) {
    return absl::InvalidArgumentError("AttentiveProbeOptions: epochs and batch_size must be >= 1, num_heads >= 0");
  }
  return ResolveEvalData(o->mutable_data());
}

absl::StatusOr<std::shared_ptr<Evaluator>> Make(const AttentiveProbeOptions& o) {
  return std::shared_ptr<Evaluator>(std::make_shared<AttentiveProbe>(o));
}

}  // namespace

CHEXWORLD_REGISTER_COMPONENT("evaluator", "attentive_probe", AttentiveProbeOptions, Evaluator,
                             "learned-query cross-attention pooling of frozen tokens + linear head", &Make, &Resolve);

}  // namespace chexworld
