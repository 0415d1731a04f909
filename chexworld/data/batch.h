// One collated pretraining batch, as the loader produces it and the
// world-model objectives consume it.
#ifndef CHEXWORLD_DATA_BATCH_H_
#define CHEXWORLD_DATA_BATCH_H_

#include <torch/torch.h>

namespace chexworld {

struct WorldModelBatch {
  torch::Tensor image1, image2;           // clean views V (B, C, H, W): target encoder
  torch::Tensor image_aug1, image_aug2;   // appearance-augmented views A: context encoder
  torch::Tensor action1, action2;         // (B, A) actions of A1, A2
  torch::Tensor rel_pos_21, rel_pos_12;   // (B, 4) crop offsets
  torch::Tensor masks_enc1, masks_pred1;  // (B, Ke), (B, Kp) int64
  torch::Tensor masks_enc2, masks_pred2;  // view-2 masks (a batch permutation of view 1's)
  bool two_views() const { return image2.defined(); }
  int64_t size() const { return image1.defined() ? image1.size(0) : 0; }
  WorldModelBatch To(const torch::Device& device) const {
    return Map([&](const torch::Tensor& t) { return t.to(device, /*non_blocking=*/true); });
  }
  // Samples [begin, end) of every tensor (views, no copy).
  WorldModelBatch Slice(int64_t begin, int64_t end) const {
    return Map([&](const torch::Tensor& t) { return t.slice(0, begin, end); });
  }

 private:
  template <typename Fn>
  WorldModelBatch Map(Fn fn) const {
    WorldModelBatch b;
    auto mv = [&](const torch::Tensor& t) { return t.defined() ? fn(t) : t; };
    b.image1 = mv(image1), b.image2 = mv(image2), b.image_aug1 = mv(image_aug1), b.image_aug2 = mv(image_aug2);
    b.action1 = mv(action1), b.action2 = mv(action2), b.rel_pos_21 = mv(rel_pos_21), b.rel_pos_12 = mv(rel_pos_12);
    b.masks_enc1 = mv(masks_enc1), b.masks_pred1 = mv(masks_pred1);
    b.masks_enc2 = mv(masks_enc2), b.masks_pred2 = mv(masks_pred2);
    return b;
  }
};

}  // namespace chexworld

#endif  // CHEXWORLD_DATA_BATCH_H_
