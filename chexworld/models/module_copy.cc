#include "chexworld/models/module_copy.h"

#include <string>

namespace chexworld {
namespace {

void CopyTensors(const torch::OrderedDict<std::string, torch::Tensor>& from,
                 torch::OrderedDict<std::string, torch::Tensor> to, const char* what) {
  TORCH_CHECK(from.size() == to.size(), "module copy: source has ", from.size(), " ", what,
              ", the fresh instance ", to.size());
  for (auto& item : to) {
    const torch::Tensor* src = from.find(item.key());
    TORCH_CHECK(src != nullptr, "module copy: the source has no ", what, " '", item.key(), "'");
    torch::Tensor dst = item.value();
    TORCH_CHECK(src->sizes() == dst.sizes(), "module copy: ", what, " '", item.key(), "' is ",
                src->sizes(), " in the source and ", dst.sizes(), " in the fresh instance");
    // set_data keeps the registered tensor (and so the module's handle on it)
    // while taking the source's device, dtype and values.
    dst.set_data(src->detach().clone());
    if (dst.requires_grad() != src->requires_grad()) dst.set_requires_grad(src->requires_grad());
  }
}

}  // namespace

void CopyModuleState(const torch::nn::Module& from, torch::nn::Module& to) {
  torch::NoGradGuard no_grad;
  CopyTensors(from.named_parameters(/*recurse=*/true), to.named_parameters(/*recurse=*/true), "parameters");
  CopyTensors(from.named_buffers(/*recurse=*/true), to.named_buffers(/*recurse=*/true), "buffers");
  to.train(from.is_training());
}

}  // namespace chexworld
