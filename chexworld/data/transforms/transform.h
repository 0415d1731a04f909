// The pretraining view-transform interface and its registry ("transform").
#ifndef CHEXWORLD_DATA_TRANSFORMS_TRANSFORM_H_
#define CHEXWORLD_DATA_TRANSFORMS_TRANSFORM_H_

#include <memory>
#include <random>
#include <string>

#include "chexworld/core/registry.h"
#include "chexworld/data/transforms/dual_view.h"

namespace chexworld {

inline constexpr char kTransformKind[] = "transform";

class ViewTransform {
 public:
  virtual ~ViewTransform() = default;
  // Clean and augmented views of one radiograph, from the sample's own stream.
  virtual DualViewSample Apply(const GrayImage& image, std::mt19937_64& rng) const = 0;
  virtual int output_size() const = 0;
  virtual std::string normalization() const = 0;
};

inline absl::StatusOr<std::shared_ptr<ViewTransform>> CreateViewTransform(const ComponentSpec& spec) {
  return CreateComponent<ViewTransform>(kTransformKind, spec);
}

}  // namespace chexworld

#endif  // CHEXWORLD_DATA_TRANSFORMS_TRANSFORM_H_
