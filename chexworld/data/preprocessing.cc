#include "chexworld/data/preprocessing.h"

#include <google/protobuf/util/json_util.h>

#include "absl/strings/str_cat.h"
#include "chexworld/data/packing.h"
#include "chexworld/data/resize.h"

namespace chexworld {

const char kDecodeDescription[] =
    "grey in [0, 1], 1 = bright: 8-bit / 16-bit PNG and JPEG divided by 255 / 65535; RGB as ITU-R 601 luma "
    "(0.299 R + 0.587 G + 0.114 B); DICOM rescaled and windowed as the packer does (chexworld/data/dicom.h), "
    "MONOCHROME1 inverted";

absl::Status ValidatePreprocessingSpec(const PreprocessingSpec& spec) {
  PackingRules rules = spec.pack();
  const int32_t size = rules.size();
  if (absl::Status s = ResolvePackingRules(&rules); !s.ok()) return s;
  if (size == 0) return absl::InvalidArgumentError("PreprocessingSpec.pack.size is missing");
  if (spec.input_size() < 1) return absl::InvalidArgumentError(absl::StrCat("PreprocessingSpec.input_size ", spec.input_size(), " < 1"));
  if (spec.channels() < 1) return absl::InvalidArgumentError(absl::StrCat("PreprocessingSpec.channels ", spec.channels(), " < 1"));
  if (spec.mean_size() != spec.channels() || spec.std_size() != spec.channels()) {
    return absl::InvalidArgumentError(absl::StrCat("PreprocessingSpec.mean/std have ", spec.mean_size(), "/", spec.std_size(),
                                                   " values for ", spec.channels(), " channels"));
  }
  for (float s : spec.std()) {
    if (!(s > 0)) return absl::InvalidArgumentError(absl::StrCat("PreprocessingSpec.std has ", s, " (must be > 0)"));
  }
  if (spec.resample() != "antialiased_bicubic") {
    return absl::InvalidArgumentError(absl::StrCat("PreprocessingSpec.resample '", spec.resample(), "' is not antialiased_bicubic"));
  }
  if (spec.pooling() != "mean") return absl::InvalidArgumentError(absl::StrCat("PreprocessingSpec.pooling '", spec.pooling(), "' is not mean"));
  return absl::OkStatus();
}

std::vector<float> PrepareInput(const GrayImage& decoded, const PreprocessingSpec& spec) {
  GrayImage packed = PackImage(decoded, spec.pack());
  const int s = spec.input_size();
  if (packed.height != s || packed.width != s) packed = Resize(packed, s, s);
  std::vector<float> out;
  out.reserve(static_cast<size_t>(spec.channels()) * s * s);
  for (int c = 0; c < spec.channels(); ++c) {
    for (float v : packed.pixels) out.push_back((v - spec.mean(c)) / spec.std(c));
  }
  return out;
}

std::string PreprocessingSpecToJson(const PreprocessingSpec& spec) {
  google::protobuf::util::JsonPrintOptions o;
  o.add_whitespace = true;
  o.preserve_proto_field_names = true;
  o.always_print_primitive_fields = true;
  std::string json;
  (void)google::protobuf::util::MessageToJsonString(spec, &json, o);
  return json;
}

absl::StatusOr<PreprocessingSpec> PreprocessingSpecFromJson(const std::string& json, const std::string& what) {
  PreprocessingSpec spec;
  auto status = google::protobuf::util::JsonStringToMessage(json, &spec);
  if (!status.ok()) return absl::InvalidArgumentError(absl::StrCat(what, ": ", status.ToString()));
  if (absl::Status s = ValidatePreprocessingSpec(spec); !s.ok()) return absl::InvalidArgumentError(absl::StrCat(what, ": ", s.message()));
  return spec;
}

}  // namespace chexworld
