#include "chexworld/models/encoders/vit.h"

#include "absl/strings/str_cat.h"
#include "chexworld/models/layers/pos_embed.h"
#include "chexworld/models/module_copy.h"

namespace chexworld {

absl::StatusOr<ViTOptions> ResolveViTOptions(const ViTOptions& in) {
  ViTOptions o = in;
  struct Preset { const char* name; int dim, depth, heads; };
  static const Preset kPresets[] = {
      {"tiny", 192, 12, 3}, {"small", 384, 12, 6}, {"base", 768, 12, 12}, {"large", 1024, 24, 16}};
  if (o.preset().empty()) o.set_preset("base");
  const Preset* preset = nullptr;
  for (const auto& p : kPresets) {
    if (o.preset() == p.name) preset = &p;
  }
  if (preset == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("ViTOptions.preset '", o.preset(), "' is not one of tiny, small, base, large"));
  }
  if (o.embed_dim() == 0) o.set_embed_dim(preset->dim);
  if (o.depth() == 0) o.set_depth(preset->depth);
  if (o.num_heads() == 0) o.set_num_heads(preset->heads);
  if (o.image_size() == 0) o.set_image_size(224);
  if (o.patch_size() == 0) o.set_patch_size(16);
  if (o.in_channels() == 0) o.set_in_channels(3);
  if (o.mlp_ratio() == 0) o.set_mlp_ratio(4.0f);
  if (o.init_std() == 0) o.set_init_std(0.02f);
  auto bad = [](absl::string_view field, auto value, absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat("ViTOptions.", field, " = ", value, ": ", why));
  };
  if (o.embed_dim() < 0) return bad("embed_dim", o.embed_dim(), "must be positive");
  if (o.depth() < 0) return bad("depth", o.depth(), "must be positive");
  if (o.num_heads() < 0) return bad("num_heads", o.num_heads(), "must be positive");
  if (o.patch_size() < 0) return bad("patch_size", o.patch_size(), "must be positive");
  if (o.in_channels() < 0) return bad("in_channels", o.in_channels(), "must be positive");
  if (o.embed_dim() % o.num_heads() != 0) {
    return bad("embed_dim", o.embed_dim(), absl::StrCat("must be divisible by num_heads = ", o.num_heads()));
  }
  if (o.embed_dim() % 4 != 0) return bad("embed_dim", o.embed_dim(), "must be a multiple of 4 (2-D sin-cos)");
  if (o.image_size() <= 0 || o.image_size() % o.patch_size() != 0) {
    return bad("image_size", o.image_size(), absl::StrCat("must be a positive multiple of patch_size = ", o.patch_size()));
  }
  if (o.mlp_ratio() < 0) return bad("mlp_ratio", o.mlp_ratio(), "must be positive");
  if (o.drop_path_rate() < 0 || o.drop_path_rate() >= 1) return bad("drop_path_rate", o.drop_path_rate(), "must be in [0, 1)");
  if (o.init_std() < 0) return bad("init_std", o.init_std(), "must be positive");
  return o;
}

PatchEmbedImpl::PatchEmbedImpl(int64_t in_channels, int64_t dim, int64_t patch)
    : in_channels_(in_channels), dim_(dim), patch_(patch) {
  reset();
}

void PatchEmbedImpl::reset() {
  proj = register_module(
      "proj", torch::nn::Conv2d(torch::nn::Conv2dOptions(in_channels_, dim_, patch_).stride(patch_).bias(true)));
}

VisionTransformerImpl::VisionTransformerImpl(const ViTOptions& resolved) : options_(resolved) {
  Build();
  InitWeights(*this, options_.init_std());
}

std::shared_ptr<Encoder> VisionTransformerImpl::CloneEncoder() const {
  return CopyModuleInto(*this, std::make_shared<VisionTransformerImpl>(options_));
}

void VisionTransformerImpl::Build() {
  const int64_t d = options_.embed_dim(), g = grid_size();
  patch_embed = register_module("patch_embed", PatchEmbed(options_.in_channels(), d, options_.patch_size()));
  pos_embed = register_parameter("pos_embed", SinCos2D(d, g, g), /*requires_grad=*/false);
  blocks = register_module("blocks", torch::nn::ModuleList());
  for (int i = 0; i < options_.depth(); ++i) {
    double dp = options_.drop_path_uniform() || options_.depth() == 1
                    ? options_.drop_path_rate()
                    : options_.drop_path_rate() * i / (options_.depth() - 1);
    blocks->push_back(Block(d, options_.num_heads(), options_.mlp_ratio(), dp));
  }
  norm = register_module("norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({d}).eps(1e-6)));
}

torch::Tensor VisionTransformerImpl::Embed(const torch::Tensor& images, const torch::Tensor& keep) {
  TORCH_CHECK(images.dim() == 4 && images.size(1) == options_.in_channels(), "vit expects (B, ",
              options_.in_channels(), ", H, W) images, got ", images.sizes());
  auto x = patch_embed(images);  // [B, D, gh, gw]
  const int64_t gh = x.size(2), gw = x.size(3);
  x = x.flatten(2).transpose(1, 2);
  x = x + InterpolatePosEmbed(pos_embed, grid_size(), grid_size(), gh, gw);
  if (keep.defined()) {
    TORCH_CHECK(keep.dim() == 2 && keep.size(0) == x.size(0), "keep indices must be (B, K), got ", keep.sizes());
    x = torch::gather(x, 1, keep.unsqueeze(-1).expand({-1, -1, x.size(-1)}));
  }
  return x;
}

torch::Tensor VisionTransformerImpl::Forward(const torch::Tensor& images, const torch::Tensor& keep) {
  auto x = Embed(images, keep);
  for (const auto& blk : *blocks) x = blk->as<BlockImpl>()->forward(x);
  return ApplyLayerNorm(norm, x);
}

std::vector<torch::Tensor> VisionTransformerImpl::ForwardLayers(const torch::Tensor& images,
                                                                const torch::Tensor& keep) {
  auto x = Embed(images, keep);
  std::vector<torch::Tensor> out;
  for (const auto& blk : *blocks) {
    x = blk->as<BlockImpl>()->forward(x);
    out.push_back(x);
  }
  out.back() = ApplyLayerNorm(norm, x);
  return out;
}

namespace {

absl::Status ValidateViT(const ViTOptions& o) { return ResolveViTOptions(o).status(); }

absl::StatusOr<std::shared_ptr<Encoder>> CreateViT(const ViTOptions& o) {
  auto resolved = ResolveViTOptions(o);
  if (!resolved.ok()) return resolved.status();
  return std::shared_ptr<Encoder>(std::make_shared<VisionTransformerImpl>(*resolved));
}

}  // namespace

CHEXWORLD_REGISTER_COMPONENT("encoder", "vit", ViTOptions, Encoder,
                             "Vision Transformer, no CLS token, fixed 2-D sin-cos positions (I-JEPA layout)",
                             &CreateViT, &ValidateViT);
CHEXWORLD_REGISTER_VARIANT("encoder", "vit", "vit_tiny", "preset: \"tiny\"", "ViT-Tiny: width 192, depth 12, 3 heads");
CHEXWORLD_REGISTER_VARIANT("encoder", "vit", "vit_small", "preset: \"small\"", "ViT-Small: width 384, depth 12, 6 heads");
CHEXWORLD_REGISTER_VARIANT("encoder", "vit", "vit_base", "preset: \"base\"", "ViT-Base: width 768, depth 12, 12 heads (official)");
CHEXWORLD_REGISTER_VARIANT("encoder", "vit", "vit_large", "preset: \"large\"", "ViT-Large: width 1024, depth 24, 16 heads");

}  // namespace chexworld
