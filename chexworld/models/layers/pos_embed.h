// Fixed sine-cosine position embeddings, exactly as the official CheXWorld code
// builds them (MAE/MoCo-v3 convention), and their resizing.
//
// Encoder/predictor tables: token (r, c) gets [S(c) || S(r)] (column first),
// S_d(u) = [sin(u w_k), cos(u w_k)], w_k = 10000^(-k/(d/2)).
// Mask tokens: RelativeSinCos2D gives [S(y') || S(x')] (row first) at
// fractional positions shifted by the relative crop offset (METHOD 1.4, 3.3).
#ifndef CHEXWORLD_MODELS_LAYERS_POS_EMBED_H_
#define CHEXWORLD_MODELS_LAYERS_POS_EMBED_H_

#include <torch/torch.h>

namespace chexworld {

// [1, grid_h * grid_w, dim] float32; token index r * grid_w + c.
torch::Tensor SinCos2D(int64_t dim, int64_t grid_h, int64_t grid_w);

// Mask-token embeddings for every target position of a grid_h x grid_w crop,
// seen from the context crop. rel: [B, 4] = [di, dj, relative_flip, dflip]
// (crop units; zeros = same crop). Returns [B, grid_h * grid_w, dim].
torch::Tensor RelativeSinCos2D(const torch::Tensor& rel, int64_t dim, int64_t grid_h, int64_t grid_w);

// The same embeddings at the positions `target_idx` [B, K] only (token index
// r * grid_w + c): [B, K, dim], equal to gathering RelativeSinCos2D's rows.
torch::Tensor RelativeSinCos2DAt(const torch::Tensor& rel, const torch::Tensor& target_idx, int64_t dim,
                                 int64_t grid_h, int64_t grid_w);

// Bicubic (align_corners = false) resize of a [1, gh*gw, D] table to a new grid.
torch::Tensor InterpolatePosEmbed(const torch::Tensor& pos_embed, int64_t old_h, int64_t old_w,
                                  int64_t new_h, int64_t new_w);

// Bicubic resize of a patch-embedding kernel [D, C, p, p] to [D, C, q, q]
// (no magnitude correction, as the official fine-tuning does for patch 8).
torch::Tensor ResizePatchKernel(const torch::Tensor& weight, int64_t new_patch);

}  // namespace chexworld

#endif  // CHEXWORLD_MODELS_LAYERS_POS_EMBED_H_
