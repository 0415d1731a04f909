// Mixed precision: bf16 autocast for the forward pass (CUDA, and CPU where
// the operators have bf16 kernels), through libtorch 2.x's device-type API.
#ifndef CHEXWORLD_TRAIN_AUTOCAST_H_
#define CHEXWORLD_TRAIN_AUTOCAST_H_

#include <ATen/autocast_mode.h>
#include <torch/torch.h>

namespace chexworld {

class AutocastGuard {
 public:
  AutocastGuard(const torch::Device& device, bool enabled)
      : type_(device.is_cuda() ? at::kCUDA : at::kCPU), enabled_(enabled) {
    if (!enabled_) return;
    at::autocast::set_autocast_dtype(type_, at::kBFloat16);
    at::autocast::set_autocast_enabled(type_, true);
  }
  ~AutocastGuard() {
    if (!enabled_) return;
    at::autocast::set_autocast_enabled(type_, false);
    at::autocast::clear_cache();
  }
  AutocastGuard(const AutocastGuard&) = delete;
  AutocastGuard& operator=(const AutocastGuard&) = delete;

 private:
  at::DeviceType type_;
  bool enabled_;
};

}  // namespace chexworld

#endif  // CHEXWORLD_TRAIN_AUTOCAST_H_
