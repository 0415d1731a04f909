#include "chexworld/models/predictors/conditioned_transformer.h"

#include "absl/strings/str_cat.h"
#include "chexworld/models/layers/pos_embed.h"
#include "chexworld/models/module_copy.h"

namespace chexworld {

absl::StatusOr<ConditionedTransformerOptions> ResolveConditionedTransformerOptions(
    const ConditionedTransformerOptions& in, const PredictorContext& context) {
  ConditionedTransformerOptions o = in;
  if (o.embed_dim() == 0) o.set_embed_dim(384);
  if (o.depth() == 0) o.set_depth(6);
  if (o.num_heads() == 0) o.set_num_heads(static_cast<int32_t>(context.encoder_heads));
  if (o.mlp_ratio() == 0) o.set_mlp_ratio(4.0f);
  if (o.action_dim() == 0) o.set_action_dim(5);
  if (o.policy_layers() == 0) o.set_policy_layers(3);
  if (o.init_std() == 0) o.set_init_std(0.02f);
  auto bad = [](absl::string_view field, auto value, absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("ConditionedTransformerOptions.", field, " = ", value, ": ", why));
  };
  if (o.embed_dim() < 0 || o.embed_dim() % 4 != 0) return bad("embed_dim", o.embed_dim(), "must be a positive multiple of 4");
  if (o.depth() < 0) return bad("depth", o.depth(), "must be positive");
  // Heads come from the encoder when unset; only check them once it is known.
  if (o.num_heads() < 0) return bad("num_heads", o.num_heads(), "must be positive");
  if (o.num_heads() > 0 && o.embed_dim() % o.num_heads() != 0) {
    return bad("embed_dim", o.embed_dim(), absl::StrCat("must be divisible by num_heads = ", o.num_heads()));
  }
  if (o.action_dim() < 0) return bad("action_dim", o.action_dim(), "must be positive");
  if (o.policy_layers() < 0) return bad("policy_layers", o.policy_layers(), "must be >= 1");
  if (o.drop_path_rate() < 0 || o.drop_path_rate() >= 1) return bad("drop_path_rate", o.drop_path_rate(), "must be in [0, 1)");
  if (context.encoder_dim < 0 || context.grid_h < 0 || context.grid_w < 0) {
    return absl::InvalidArgumentError("predictor context has negative sizes");
  }
  return o;
}

ConditionedTransformerImpl::ConditionedTransformerImpl(const ConditionedTransformerOptions& resolved,
                                                       const PredictorContext& context)
    : options_(resolved), context_(context) {
  Build();
  InitWeights(*this, options_.init_std());
  TruncNormal_(mask_token, options_.init_std());
}

std::shared_ptr<Predictor> ConditionedTransformerImpl::ClonePredictor() const {
  return CopyModuleInto(*this, std::make_shared<ConditionedTransformerImpl>(options_, context_));
}

void ConditionedTransformerImpl::Build() {
  const int64_t p = options_.embed_dim(), d = context_.encoder_dim;
  predictor_embed = register_module("predictor_embed", torch::nn::Linear(d, p));
  mask_token = register_parameter("mask_token", torch::zeros({1, 1, p}));
  predictor_pos_embed = register_parameter("predictor_pos_embed",
                                           SinCos2D(p, context_.grid_h, context_.grid_w),
                                           /*requires_grad=*/false);
  predictor_blocks = register_module("predictor_blocks", torch::nn::ModuleList());
  for (int i = 0; i < options_.depth(); ++i) {
    double dp = options_.depth() == 1 ? options_.drop_path_rate()
                                      : options_.drop_path_rate() * i / (options_.depth() - 1);
    predictor_blocks->push_back(Block(p, options_.num_heads(), options_.mlp_ratio(), dp));
  }
  predictor_norm = register_module("predictor_norm",
                                   torch::nn::LayerNorm(torch::nn::LayerNormOptions({p}).eps(1e-6)));
  predictor_proj = register_module("predictor_proj", torch::nn::Linear(p, d));
  if (!options_.disable_action()) {
    policy_net = torch::nn::Sequential();
    policy_net->push_back(torch::nn::Linear(p + options_.action_dim(), p));
    for (int i = 1; i < options_.policy_layers(); ++i) {
      policy_net->push_back(torch::nn::ReLU());
      policy_net->push_back(torch::nn::Linear(p, p));
    }
    register_module("policy_net", policy_net);
  }
}

torch::Tensor ConditionedTransformerImpl::Forward(const PredictorInputs& in, PredictorTrace* trace) {
  const auto& z = in.context;
  TORCH_CHECK(z.dim() == 3 && z.size(2) == context_.encoder_dim, "predictor context must be (B, Ke, ",
              context_.encoder_dim, "), got ", z.sizes());
  TORCH_CHECK(in.target_idx.defined() && in.target_idx.dim() == 2 && in.target_idx.size(0) == z.size(0),
              "predictor target_idx must be (B, Kp)");
  const int64_t b = z.size(0), p = options_.embed_dim();
  const int64_t n = context_.grid_h * context_.grid_w;

  auto x = predictor_embed(z);
  if (in.context_idx.defined()) {
    auto table = predictor_pos_embed.expand({b, -1, -1});
    x = x + torch::gather(table, 1, in.context_idx.unsqueeze(-1).expand({-1, -1, p}));
  } else {
    TORCH_CHECK(z.size(1) == n, "full-context prediction needs all ", n, " tokens, got ", z.size(1));
    x = x + predictor_pos_embed;
  }
  const int64_t n_ctx = x.size(1);

  torch::Tensor rel = in.rel_pos;
  if (!rel.defined() || options_.disable_relative_offset()) {
    rel = torch::zeros({b, 4}, z.options().dtype(torch::kFloat32));
  }
  // The embedding at the target positions only (the same values as gathering
  // the full table; the trace asks for the table).
  auto pos = RelativeSinCos2DAt(rel, in.target_idx, p, context_.grid_h, context_.grid_w).to(x.dtype());
  auto tokens = mask_token + pos;  // (B, Kp, p)
  if (trace != nullptr) trace->relpos_embed = RelativeSinCos2D(rel, p, context_.grid_h, context_.grid_w);

  if (!options_.disable_action()) {
    TORCH_CHECK(in.action.defined() && in.action.dim() == 2 && in.action.size(0) == b &&
                    in.action.size(1) == options_.action_dim(),
                "predictor needs an action (B, ", options_.action_dim(), ")");
    auto a = in.action.to(tokens.dtype()).unsqueeze(1).expand({-1, tokens.size(1), -1});
    auto policy_in = torch::cat({tokens, a}, -1);
    tokens = policy_net->forward(policy_in);
    if (trace != nullptr) {
      trace->policy_in = policy_in;
      trace->policy_out = tokens;
    }
  }
  x = torch::cat({x, tokens}, 1);
  if (trace != nullptr) trace->blocks_in = x;
  for (const auto& blk : *predictor_blocks) x = blk->as<BlockImpl>()->forward(x);
  // LayerNorm is per token: normalise only the predicted ones.
  return predictor_proj(ApplyLayerNorm(predictor_norm, x.slice(1, n_ctx)));
}

namespace {

absl::Status ValidateConditionedTransformer(const ConditionedTransformerOptions& o) {
  return ResolveConditionedTransformerOptions(o, PredictorContext{}).status();
}

absl::StatusOr<std::shared_ptr<Predictor>> CreateConditionedTransformer(
    const ConditionedTransformerOptions& o, PredictorContext context) {
  if (context.encoder_dim <= 0 || context.grid_h <= 0 || context.grid_w <= 0 || context.encoder_heads <= 0) {
    return absl::InvalidArgumentError("conditioned_transformer needs the encoder's width, heads and grid");
  }
  auto resolved = ResolveConditionedTransformerOptions(o, context);
  if (!resolved.ok()) return resolved.status();
  return std::shared_ptr<Predictor>(std::make_shared<ConditionedTransformerImpl>(*resolved, context));
}

}  // namespace

CHEXWORLD_REGISTER_COMPONENT("predictor", "conditioned_transformer", ConditionedTransformerOptions, Predictor,
                             "CheXWorld predictor: relative-offset mask tokens conditioned on the appearance action",
                             &CreateConditionedTransformer, &ValidateConditionedTransformer);

}  // namespace chexworld
