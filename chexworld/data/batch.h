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
  // On another device: a packed batch (below) moves in one copy per buffer,
  // its fields re-made as views there; otherwise field by field. Copies are
  // non-blocking (asynchronous from pinned memory on CUDA).
  WorldModelBatch To(const torch::Device& device) const {
    if (device == image1.device()) return *this;
    if (!packed_float_.defined()) {
      return Map([&](const torch::Tensor& t) { return t.to(device, /*non_blocking=*/true); });
    }
    const torch::Tensor f = packed_float_.to(device, /*non_blocking=*/true);
    const torch::Tensor i = packed_long_.to(device, /*non_blocking=*/true);
    WorldModelBatch out = Map([&](const torch::Tensor& t) {
      return (t.scalar_type() == torch::kLong ? i : f).as_strided(t.sizes(), t.strides(), t.storage_offset());
    });
    out.packed_float_ = f;
    out.packed_long_ = i;
    return out;
  }
  // The same batch with every float field in one contiguous buffer and every
  // int64 field (the masks) in another, pinned when `pin` (CUDA builds): the
  // loader's workers pack, so the training step's copy is two transfers.
  WorldModelBatch Packed(bool pin) const {
    int64_t nf = 0, ni = 0;
    Map([&](const torch::Tensor& t) {
      (t.scalar_type() == torch::kLong ? ni : nf) += t.numel();
      return t;
    });
    WorldModelBatch b;
    b.packed_float_ = torch::empty({nf}, torch::kFloat32);
    b.packed_long_ = torch::empty({ni}, torch::kLong);
    if (pin) {
      b.packed_float_ = b.packed_float_.pin_memory();
      b.packed_long_ = b.packed_long_.pin_memory();
    }
    int64_t of = 0, oi = 0;
    WorldModelBatch views = Map([&](const torch::Tensor& t) {
      const bool is_long = t.scalar_type() == torch::kLong;
      TORCH_CHECK(is_long || t.scalar_type() == torch::kFloat32, "batch tensors are float32 or int64, got ",
                  t.scalar_type());
      int64_t& offset = is_long ? oi : of;
      torch::Tensor view = (is_long ? b.packed_long_ : b.packed_float_).narrow(0, offset, t.numel()).view(t.sizes());
      view.copy_(t);
      offset += t.numel();
      return view;
    });
    views.packed_float_ = b.packed_float_;
    views.packed_long_ = b.packed_long_;
    return views;
  }
  bool packed() const { return packed_float_.defined(); }
  // Copies every field into `dst`'s tensors, which have the same shapes (two
  // copies when both are packed), non-blocking, on the current stream.
  void CopyInto(WorldModelBatch& dst) const {
    if (packed() && dst.packed() && packed_float_.sizes() == dst.packed_float_.sizes() &&
        packed_long_.sizes() == dst.packed_long_.sizes()) {
      dst.packed_float_.copy_(packed_float_, /*non_blocking=*/true);
      dst.packed_long_.copy_(packed_long_, /*non_blocking=*/true);
      return;
    }
    WorldModelBatch* out = &dst;
    auto fields = [](WorldModelBatch& b) {
      return std::vector<torch::Tensor*>{&b.image1, &b.image2, &b.image_aug1, &b.image_aug2, &b.action1, &b.action2,
                                         &b.rel_pos_21, &b.rel_pos_12, &b.masks_enc1, &b.masks_pred1,
                                         &b.masks_enc2, &b.masks_pred2};
    };
    WorldModelBatch self = *this;
    auto from = fields(self), to = fields(*out);
    for (size_t i = 0; i < from.size(); ++i) {
      if (from[i]->defined()) to[i]->copy_(*from[i], /*non_blocking=*/true);
    }
  }
  // fn(tensor) for every defined field.
  template <typename Fn>
  void ForEach(Fn fn) const {
    Map([&](const torch::Tensor& t) {
      fn(t);
      return t;
    });
  }
  // Samples [begin, end) of every tensor (views, no copy).
  WorldModelBatch Slice(int64_t begin, int64_t end) const {
    return Map([&](const torch::Tensor& t) { return t.slice(0, begin, end); });
  }

 private:
  torch::Tensor packed_float_, packed_long_;  // set by Packed(): the fields are views of these

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
