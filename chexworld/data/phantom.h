// A synthetic chest-radiograph phantom, deterministic from a seed: lungs,
// heart, mediastinum, spine, ribs and clavicles, with per-image "site" styles
// (exposure, contrast, blur, noise, collimation borders) and optional findings
// (an opacity in a lung; an enlarged heart). It gives images, labels and masks,
// so pretraining, probing and segmentation all run without downloads.
//
// Labels: "opacity", "cardiomegaly". Masks: "lungs", "heart", "opacity".
#ifndef CHEXWORLD_DATA_PHANTOM_H_
#define CHEXWORLD_DATA_PHANTOM_H_

#include <cstdint>
#include <string>
#include <vector>

#include "chexworld/data/image.h"

namespace chexworld {

struct PhantomOptions {
  int image_size = 128;
  int num_sites = 4;                // distinct acquisition styles
  double opacity_probability = 0.35;
  double cardiomegaly_probability = 0.3;
};

struct PhantomImage {
  GrayImage image;                 // [0, 1]
  std::vector<float> labels;       // opacity, cardiomegaly
  std::vector<uint8_t> masks;      // 3 * size * size: lungs, heart, opacity
  int site = 0;
};

const std::vector<std::string>& PhantomLabelNames();
const std::vector<std::string>& PhantomMaskNames();

// Image `index` of the phantom data set `seed`: the same (seed, index) always
// gives the same image, whatever the order or thread it is made in.
PhantomImage MakePhantom(const PhantomOptions& options, uint64_t seed, int64_t index);

}  // namespace chexworld

#endif  // CHEXWORLD_DATA_PHANTOM_H_
