// The UNETR-style convolutional segmentation decoder of the official
// fine-tuning (METHOD 3.5), generalised to any grid and patch size.
//
// The last-layer tokens (B, N, D) become a (B, D, G, G) map; four adapters
// bring it to S/2, S/4, S/8, S/16 (S = image side) with widths w*2, w*4, w*8,
// w*16 (w = base width, official 32): [nearest x2, conv3x3, BN, GELU] per
// doubling, strided conv2x2 per halving, then a 1x1 conv. A stem BasicBlock
// runs on the image at full size (width w). Four decoder steps go from S/16 up
// to S: nearest x2, concatenate the skip (3x the output width), BasicBlock.
// A final 1x1 conv gives (B, classes, S, S) logits.
// BasicBlock = [conv3x3, BN, GELU] x 2 + a 1x1 conv shortcut when widths differ.
#ifndef CHEXWORLD_MODELS_HEADS_SEG_DECODER_H_
#define CHEXWORLD_MODELS_HEADS_SEG_DECODER_H_

#include <torch/torch.h>

namespace chexworld {

class BasicBlockImpl : public torch::nn::Cloneable<BasicBlockImpl> {
 public:
  BasicBlockImpl(int64_t in, int64_t out);
  void reset() override;
  torch::Tensor forward(const torch::Tensor& x);

 private:
  int64_t in_, out_;
  torch::nn::Sequential body{nullptr};
  torch::nn::Conv2d shortcut{nullptr};
};
TORCH_MODULE(BasicBlock);

class SegDecoderImpl : public torch::nn::Cloneable<SegDecoderImpl> {
 public:
  SegDecoderImpl(int64_t embed_dim, int64_t grid, int64_t image_size, int64_t in_channels, int64_t classes,
                 int64_t base_width = 32);
  void reset() override;
  // tokens (B, G*G, D), images (B, C, S, S) -> logits (B, classes, S, S).
  torch::Tensor forward(const torch::Tensor& tokens, const torch::Tensor& images);

 private:
  int64_t dim_, grid_, size_, in_channels_, classes_, width_;
  torch::nn::ModuleList adapters{nullptr}, decoder{nullptr};
  BasicBlock stem{nullptr};
  torch::nn::Conv2d out{nullptr};
};
TORCH_MODULE(SegDecoder);

// MONAI-style soft Dice loss on sigmoid probabilities (per image and class,
// smoothed by 1e-5) plus binary cross-entropy, both means.
torch::Tensor DiceBceLoss(const torch::Tensor& logits, const torch::Tensor& target);

}  // namespace chexworld

#endif  // CHEXWORLD_MODELS_HEADS_SEG_DECODER_H_
