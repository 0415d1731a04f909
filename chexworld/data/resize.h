// Antialiased resampling (PIL semantics): a separable bicubic kernel (a = -0.5)
// whose support widens by the downscale factor, so downsizing averages instead
// of aliasing. Used by the packers (resize to the shard size) and by the crop
// transforms (crop + resize to the model's input).
#ifndef CHEXWORLD_DATA_RESIZE_H_
#define CHEXWORLD_DATA_RESIZE_H_

#include "chexworld/data/image.h"

namespace chexworld {

// Resamples the region `box` of `src` (which may extend past the image: outside
// pixels repeat the edge) to out_h x out_w; `flip` mirrors the result
// horizontally.
GrayImage CropResize(const GrayImage& src, const Box& box, int out_h, int out_w, bool flip = false);

inline GrayImage Resize(const GrayImage& src, int out_h, int out_w) {
  return CropResize(src, Box{0, 0, src.height, src.width}, out_h, out_w);
}

// Separable Gaussian blur in place (radius 3 sigma, edges repeated); no-op for
// sigma <= 0.05.
void GaussianBlur(GrayImage* image, double sigma);

}  // namespace chexworld

#endif  // CHEXWORLD_DATA_RESIZE_H_
