#include "chexworld/models/checkpoint/adapt.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "chexworld/models/layers/pos_embed.h"

namespace chexworld {

absl::StatusOr<NamedTensors> AdaptEncoderWeights(const NamedTensors& weights, const Encoder& encoder) {
  NamedTensors out;
  const int64_t grid = encoder.grid_size();
  for (const auto& [name, tensor] : weights) {
    torch::Tensor t = tensor;
    if (name == "pos_embed" && t.dim() == 3 && t.size(1) != grid * grid) {
      const int64_t old = static_cast<int64_t>(std::llround(std::sqrt(static_cast<double>(t.size(1)))));
      if (old * old != t.size(1)) {
        return absl::InvalidArgumentError(absl::StrCat("pos_embed has ", t.size(1), " tokens: not a square grid"));
      }
      t = InterpolatePosEmbed(t.to(torch::kFloat32), old, old, grid, grid);
    }
    if (name == "patch_embed.proj.weight" && t.dim() == 4) {
      if (t.size(-1) != encoder.patch_size()) t = ResizePatchKernel(t.to(torch::kFloat32), encoder.patch_size());
      const int64_t c_old = t.size(1), c_new = encoder.in_channels();
      if (c_old != c_new) {
        if (c_new == 1) {
          t = t.sum(1, /*keepdim=*/true);
        } else if (c_old == 1) {
          t = t.repeat({1, c_new, 1, 1}) / static_cast<double>(c_new);
        } else {
          return absl::InvalidArgumentError(absl::StrCat("cannot adapt a ", c_old, "-channel patch kernel to ",
                                                         c_new, " channels"));
        }
      }
    }
    out.emplace_back(name, t);
  }
  return out;
}

}  // namespace chexworld
