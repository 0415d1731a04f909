#include "chexworld/models/layers/pos_embed.h"

namespace chexworld {
namespace {

namespace F = torch::nn::functional;

// omega_k = 1 / 10000^(k / half), k < half, float32 as the official code.
torch::Tensor Omega(int64_t half, const torch::TensorOptions& opts) {
  auto k = torch::arange(half, opts.dtype(torch::kFloat32)) / static_cast<double>(half);
  return 1.0 / torch::pow(10000.0, k);
}

// [M] positions -> [M, dim] = [sin(p w) || cos(p w)].
torch::Tensor SinCos1D(int64_t dim, const torch::Tensor& pos) {
  auto out = torch::outer(pos, Omega(dim / 2, pos.options()));
  return torch::cat({torch::sin(out), torch::cos(out)}, /*dim=*/1);
}

}  // namespace

torch::Tensor SinCos2D(int64_t dim, int64_t grid_h, int64_t grid_w) {
  TORCH_CHECK(dim % 4 == 0, "sin-cos position embedding width must be a multiple of 4, got ", dim);
  auto rows = torch::arange(grid_h, torch::kFloat32).repeat_interleave(grid_w);  // r of token r*W+c
  auto cols = torch::arange(grid_w, torch::kFloat32).repeat({grid_h});           // c of token r*W+c
  return torch::cat({SinCos1D(dim / 2, cols), SinCos1D(dim / 2, rows)}, 1).unsqueeze(0);
}

torch::Tensor RelativeSinCos2D(const torch::Tensor& rel, int64_t dim, int64_t grid_h, int64_t grid_w) {
  TORCH_CHECK(rel.dim() == 2 && rel.size(1) == 4, "relative position must be [B, 4], got ", rel.sizes());
  TORCH_CHECK(dim % 4 == 0, "relative embedding width must be a multiple of 4, got ", dim);
  torch::NoGradGuard no_grad;
  auto r = rel.to(torch::kFloat32);
  auto opts = r.options();
  // Same operation order as the official get_2d_sincos_pos_embed_relative_easy
  // (float32), so fractional positions round identically.
  auto di = r.select(1, 0) * static_cast<double>(grid_h);
  auto dj = r.select(1, 1) * static_cast<double>(grid_w);
  auto flip = r.select(1, 2).unsqueeze(-1);
  auto dflip = r.select(1, 3) * static_cast<double>(grid_w);
  auto raw_h = torch::arange(grid_h, opts).repeat_interleave(grid_w) + 0.5;  // [N]
  auto raw_w = torch::arange(grid_w, opts).repeat({grid_h}) + 0.5;
  auto ones = torch::ones_like(di);
  auto y = torch::outer(ones, raw_h) + di.unsqueeze(-1);
  auto x = torch::outer(ones, raw_w) + dj.unsqueeze(-1);
  auto x_flipped = -torch::outer(ones, raw_w) + dflip.unsqueeze(-1);
  x = flip * x_flipped + (1 - flip) * x;
  x = x - 0.5;
  y = y - 0.5;
  auto omega = Omega(dim / 4, opts);
  auto out_h = y.unsqueeze(-1) * omega;  // [B, N, dim/4]
  auto out_w = x.unsqueeze(-1) * omega;
  return torch::cat({torch::sin(out_h), torch::cos(out_h), torch::sin(out_w), torch::cos(out_w)}, 2);
}

torch::Tensor RelativeSinCos2DAt(const torch::Tensor& rel, const torch::Tensor& target_idx, int64_t dim,
                                 int64_t grid_h, int64_t grid_w) {
  TORCH_CHECK(rel.dim() == 2 && rel.size(1) == 4, "relative position must be [B, 4], got ", rel.sizes());
  TORCH_CHECK(target_idx.dim() == 2 && target_idx.size(0) == rel.size(0), "target_idx must be [B, K]");
  TORCH_CHECK(dim % 4 == 0, "relative embedding width must be a multiple of 4, got ", dim);
  torch::NoGradGuard no_grad;
  auto r = rel.to(torch::kFloat32);
  auto opts = r.options();
  // As RelativeSinCos2D, element for element (same operations, same order).
  auto di = r.select(1, 0) * static_cast<double>(grid_h);
  auto dj = r.select(1, 1) * static_cast<double>(grid_w);
  auto flip = r.select(1, 2).unsqueeze(-1);
  auto dflip = r.select(1, 3) * static_cast<double>(grid_w);
  auto idx = target_idx.to(r.device());
  auto raw_h = torch::div(idx, grid_w, "floor").to(torch::kFloat32) + 0.5;  // [B, K]
  auto raw_w = torch::remainder(idx, grid_w).to(torch::kFloat32) + 0.5;
  auto y = raw_h + di.unsqueeze(-1);
  auto x = raw_w + dj.unsqueeze(-1);
  auto x_flipped = -raw_w + dflip.unsqueeze(-1);
  x = flip * x_flipped + (1 - flip) * x;
  x = x - 0.5;
  y = y - 0.5;
  auto omega = Omega(dim / 4, opts);
  auto out_h = y.unsqueeze(-1) * omega;  // [B, K, dim/4]
  auto out_w = x.unsqueeze(-1) * omega;
  return torch::cat({torch::sin(out_h), torch::cos(out_h), torch::sin(out_w), torch::cos(out_w)}, 2);
}

torch::Tensor InterpolatePosEmbed(const torch::Tensor& pos_embed, int64_t old_h, int64_t old_w,
                                  int64_t new_h, int64_t new_w) {
  if (old_h == new_h && old_w == new_w) return pos_embed;
  const int64_t d = pos_embed.size(-1);
  TORCH_CHECK(pos_embed.size(1) == old_h * old_w, "position table has ", pos_embed.size(1),
              " tokens, expected ", old_h, "x", old_w);
  auto grid = pos_embed.reshape({1, old_h, old_w, d}).permute({0, 3, 1, 2});
  auto resized = F::interpolate(grid, F::InterpolateFuncOptions()
                                          .size(std::vector<int64_t>{new_h, new_w})
                                          .mode(torch::kBicubic)
                                          .align_corners(false));
  return resized.permute({0, 2, 3, 1}).reshape({1, new_h * new_w, d});
}

torch::Tensor ResizePatchKernel(const torch::Tensor& weight, int64_t new_patch) {
  if (weight.size(-1) == new_patch && weight.size(-2) == new_patch) return weight;
  const auto s = weight.sizes();
  auto flat = weight.reshape({s[0] * s[1], 1, s[2], s[3]});
  auto resized = F::interpolate(flat, F::InterpolateFuncOptions()
                                          .size(std::vector<int64_t>{new_patch, new_patch})
                                          .mode(torch::kBicubic)
                                          .align_corners(false));
  return resized.reshape({s[0], s[1], new_patch, new_patch});
}

}  // namespace chexworld
