// CheXWorld's dual-view pretraining transform (METHOD 4.2-4.3), torch-free.
//
// From one radiograph: shared colour jitter; two same-size random crops with
// independent flips (rel_pos = [di, dj, relative flip, dflip]); a
// parameterised appearance transform per view giving the context views A1, A2
// and their actions a = [brightness, contrast, gamma, blur radius, noise sigma].
// Outputs are normalised float planes (output_size^2).
#ifndef CHEXWORLD_DATA_TRANSFORMS_DUAL_VIEW_H_
#define CHEXWORLD_DATA_TRANSFORMS_DUAL_VIEW_H_

#include <array>
#include <random>

#include "absl/status/statusor.h"
#include "chexworld/data/image.h"
#include "chexworld/data/transforms/dual_view.pb.h"

namespace chexworld {

inline constexpr int kActionDim = 5;
using Action = std::array<float, kActionDim>;
inline constexpr Action kIdentityAction = {1.f, 1.f, 1.f, 0.f, 0.f};

struct DualViewSample {
  GrayImage view1, view2;  // clean crops V1, V2 (target encoder)
  GrayImage aug1, aug2;    // A1, A2 (context encoder)
  Action action1, action2;
  std::array<float, 4> rel_pos_21, rel_pos_12;
  // Crop geometry in the source image: y, x, h, w, flip of each view.
  Box crop1, crop2;
  bool flip1 = false, flip2 = false;
};

// Defaults filled and values checked (InvalidArgument naming the field).
absl::StatusOr<DualViewOptions> ResolveDualViewOptions(const DualViewOptions& options);

// Per-channel mean and std for a normalisation preset and channel count.
absl::Status NormalizationStats(const std::string& preset, int channels, std::vector<float>* mean,
                                std::vector<float>* std);

// `options` must be resolved. `rng` is the sample's own generator.
DualViewSample MakeDualView(const GrayImage& source, const DualViewOptions& options, std::mt19937_64& rng);

// The appearance action alone, applied to `view` in place (exposed for the analyses).
Action ApplyRandomAppearance(GrayImage* view, const DualViewOptions& options, std::mt19937_64& rng);
void ApplyAppearance(GrayImage* view, const Action& action);

// Random-resized-crop geometry (torchvision semantics: 10 tries, then a
// central crop with the ratio clamped).
Box SampleCropBox(int height, int width, double scale_min, double scale_max, double ratio_min, double ratio_max,
                  std::mt19937_64& rng);

}  // namespace chexworld

#endif  // CHEXWORLD_DATA_TRANSFORMS_DUAL_VIEW_H_
