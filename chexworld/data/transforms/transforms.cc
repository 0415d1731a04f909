// Registered view transforms: "dual_view".
#include "chexworld/data/transforms/transform.h"

namespace chexworld {
namespace {

class DualView : public ViewTransform {
 public:
  explicit DualView(DualViewOptions resolved) : o_(std::move(resolved)) {}
  DualViewSample Apply(const GrayImage& image, std::mt19937_64& rng) const override {
    return MakeDualView(image, o_, rng);
  }
  int output_size() const override { return o_.output_size(); }
  std::string normalization() const override { return o_.normalization(); }

 private:
  DualViewOptions o_;
};

absl::Status ValidateDualView(const DualViewOptions& o) { return ResolveDualViewOptions(o).status(); }

absl::StatusOr<std::shared_ptr<ViewTransform>> CreateDualView(const DualViewOptions& o) {
  auto r = ResolveDualViewOptions(o);
  if (!r.ok()) return r.status();
  return std::shared_ptr<ViewTransform>(std::make_shared<DualView>(*r));
}

}  // namespace

CHEXWORLD_REGISTER_COMPONENT("transform", "dual_view", DualViewOptions, ViewTransform,
                             "CheXWorld views: two same-size crops with offsets, appearance actions per view",
                             &CreateDualView, &ValidateDualView);

}  // namespace chexworld
