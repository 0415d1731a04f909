// An image file's way to an encoder input, as a PreprocessingSpec
// (preprocessing.proto) describes it: the exported weights carry the spec, and
// this is the C++ reference the Python package matches. Torch-free.
#ifndef CHEXWORLD_DATA_PREPROCESSING_H_
#define CHEXWORLD_DATA_PREPROCESSING_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "chexworld/data/image.h"
#include "chexworld/data/preprocessing.pb.h"

namespace chexworld {

// What step 1 does, in words (the spec's `decode`).
extern const char kDecodeDescription[];

// The spec checked (pack rules, sizes, one mean/std per channel); errors
// name the field.
absl::Status ValidatePreprocessingSpec(const PreprocessingSpec& spec);

// Steps 2-4 on a decoded image: channels x input_size x input_size floats,
// channel-major, ready for the encoder.
std::vector<float> PrepareInput(const GrayImage& decoded, const PreprocessingSpec& spec);

// The spec as indented JSON (field names as in the .proto) and back.
std::string PreprocessingSpecToJson(const PreprocessingSpec& spec);
absl::StatusOr<PreprocessingSpec> PreprocessingSpecFromJson(const std::string& json, const std::string& what);

}  // namespace chexworld

#endif  // CHEXWORLD_DATA_PREPROCESSING_H_
