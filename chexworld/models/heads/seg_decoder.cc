#include "chexworld/models/heads/seg_decoder.h"

#include <cmath>

namespace chexworld {
namespace {

namespace nn = torch::nn;

void AddConvBnGelu(nn::Sequential& s, int64_t in, int64_t out) {
  s->push_back(nn::Conv2d(nn::Conv2dOptions(in, out, 3).padding(1).bias(false)));
  s->push_back(nn::BatchNorm2d(out));
  s->push_back(nn::GELU());
}

nn::Upsample Up2() {
  return nn::Upsample(nn::UpsampleOptions().scale_factor(std::vector<double>{2.0, 2.0}).mode(torch::kNearest));
}

}  // namespace

BasicBlockImpl::BasicBlockImpl(int64_t in, int64_t out) : in_(in), out_(out) { reset(); }

void BasicBlockImpl::reset() {
  body = nn::Sequential();
  AddConvBnGelu(body, in_, out_);
  AddConvBnGelu(body, out_, out_);
  register_module("body", body);
  if (in_ != out_) shortcut = register_module("shortcut", nn::Conv2d(nn::Conv2dOptions(in_, out_, 1)));
}

torch::Tensor BasicBlockImpl::forward(const torch::Tensor& x) {
  return body->forward(x) + (shortcut ? shortcut(x) : x);
}

SegDecoderImpl::SegDecoderImpl(int64_t embed_dim, int64_t grid, int64_t image_size, int64_t in_channels,
                               int64_t classes, int64_t base_width)
    : dim_(embed_dim), grid_(grid), size_(image_size), in_channels_(in_channels), classes_(classes), width_(base_width) {
  TORCH_CHECK(image_size % 16 == 0, "segmentation needs an image side divisible by 16, got ", image_size);
  reset();
}

void SegDecoderImpl::reset() {
  adapters = register_module("adapters", nn::ModuleList());
  for (int k = 1; k <= 4; ++k) {
    const int64_t res = size_ >> k, ch = width_ << k;
    nn::Sequential a;
    int64_t cur = grid_, c = dim_;
    while (cur < res) {
      a->push_back(Up2());
      AddConvBnGelu(a, c, ch);
      c = ch;
      cur *= 2;
    }
    while (cur > res) {
      a->push_back(nn::Conv2d(nn::Conv2dOptions(c, ch, 2).stride(2)));
      a->push_back(nn::BatchNorm2d(ch));
      a->push_back(nn::GELU());
      c = ch;
      cur /= 2;
    }
    a->push_back(nn::Conv2d(nn::Conv2dOptions(c, ch, 1)));
    adapters->push_back(a);
  }
  stem = register_module("stem", BasicBlock(in_channels_, width_));
  decoder = register_module("decoder", nn::ModuleList());
  for (int k = 3; k >= 0; --k) {  // outputs at S/8, S/4, S/2, S with widths w*8, w*4, w*2, w
    const int64_t out_ch = width_ << k;
    decoder->push_back(BasicBlock(3 * out_ch, out_ch));
  }
  out = register_module("out", nn::Conv2d(nn::Conv2dOptions(width_, classes_, 1)));
}

torch::Tensor SegDecoderImpl::forward(const torch::Tensor& tokens, const torch::Tensor& images) {
  const int64_t b = tokens.size(0);
  auto map = tokens.transpose(1, 2).reshape({b, dim_, grid_, grid_});
  std::vector<torch::Tensor> skips;  // S/2, S/4, S/8, S/16
  for (const auto& a : *adapters) skips.push_back(a->as<nn::Sequential>()->forward(map));
  skips.insert(skips.begin(), stem(images));  // S
  auto x = skips.back();                      // S/16
  auto up = Up2();
  for (int k = 0; k < 4; ++k) {
    x = up(x);
    x = decoder[k]->as<BasicBlockImpl>()->forward(torch::cat({x, skips[3 - k]}, 1));
  }
  return out(x);
}

torch::Tensor DiceBceLoss(const torch::Tensor& logits, const torch::Tensor& target) {
  auto p = logits.sigmoid();
  const double smooth = 1e-5;
  auto inter = (p * target).sum({2, 3});
  auto denom = p.sum({2, 3}) + target.sum({2, 3});
  auto dice = 1 - (2 * inter + smooth) / (denom + smooth);
  return dice.mean() + torch::binary_cross_entropy_with_logits(logits, target);
}

}  // namespace chexworld
