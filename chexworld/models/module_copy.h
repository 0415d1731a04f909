// Deep copies of registered modules without torch::nn::Cloneable.
//
// Encoder and Predictor are interfaces deriving from torch::nn::Module; an
// implementation derives from the interface alone. Upstream libtorch's
// Cloneable<T> derives non-virtually from Module, so a class deriving from
// both Cloneable<T> and an interface would hold two Module bases (ambiguous
// everywhere). Instead an implementation builds a fresh instance from its
// resolved options and copies every parameter and buffer into it:
//
//   std::shared_ptr<Encoder> VisionTransformerImpl::CloneEncoder() const {
//     return CopyModuleInto(*this, std::make_shared<VisionTransformerImpl>(options_));
//   }
#ifndef CHEXWORLD_MODELS_MODULE_COPY_H_
#define CHEXWORLD_MODELS_MODULE_COPY_H_

#include <memory>

#include <torch/torch.h>

namespace chexworld {

// Copies `from`'s parameters and buffers (values, device, dtype,
// requires_grad) and training flag into `to`, which must have the same names
// and shapes; the copy shares no storage with `from`. Throws c10::Error
// naming the first key that differs.
void CopyModuleState(const torch::nn::Module& from, torch::nn::Module& to);

template <typename T>
std::shared_ptr<T> CopyModuleInto(const torch::nn::Module& from, std::shared_ptr<T> fresh) {
  CopyModuleState(from, *fresh);
  return fresh;
}

}  // namespace chexworld

#endif  // CHEXWORLD_MODELS_MODULE_COPY_H_
