// The packer's per-image preprocessing (shard.proto PackingRules), shared by
// the folder packer (datasets/packer.h), the embedding tool and anything that
// must turn a new image file into what an encoder saw in its shards:
//
//   decoded [0, 1] grey -> content box (black borders removed) -> fit to
//   size x size ("letterbox": aspect kept, zero padding, centred; "square":
//   stretched), antialiased bicubic (resize.h) -> stored as uint8 / uint16.
//
// Torch-free.
#ifndef CHEXWORLD_DATA_PACKING_H_
#define CHEXWORLD_DATA_PACKING_H_

#include <string>

#include "absl/status/status.h"
#include "chexworld/data/image.h"
#include "chexworld/data/shard.pb.h"

namespace chexworld {

// The content box after black-border removal: rows and columns where at
// least 10% of the pixels exceed `threshold`; the whole image when that
// leaves less than a quarter of either side.
Box FindContentBox(const GrayImage& image, float threshold);

GrayImage Crop(const GrayImage& image, const Box& box);

// Fits `image` into size x size; returns where the content went.
GrayImage FitToSquare(const GrayImage& image, int size, const std::string& mode, Box* content);

// Rules with their defaults filled in (the pack tool's: letterbox, borders
// removed below 0.04, uint8) and checked; errors name the field.
absl::Status ResolvePackingRules(PackingRules* rules);

// What the shard stores for a decoded image, as the loader reads it back
// (quantised to the rules' pixel type). `crop` and `content` (optional) get
// the content box in the source and where it went in the result.
GrayImage PackImage(const GrayImage& decoded, const PackingRules& rules, Box* crop = nullptr, Box* content = nullptr);

}  // namespace chexworld

#endif  // CHEXWORLD_DATA_PACKING_H_
