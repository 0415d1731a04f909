// Embeddings of image files with exported weights, through the exported
// preprocessing spec: the C++ reference for the Python package
// (chexworld/python/chexworld_torch), and a way to feature-extract a folder
// for one's own analysis.
//
//   bazel run //experiments:export -- --run_dir=runs/pretrain_tiny/<stamp>
//   bazel run //experiments:embed -- --export_dir=runs/pretrain_tiny/<stamp>/export
//       --images=a.png,b.jpg --out=/tmp/embeddings.safetensors   (one command line)
//
// Writes `embeddings` (images x D, float32; the mean of the encoder's output
// tokens) with the image paths in the metadata (image_0, image_1, ...). An
// image that does not decode is skipped, named on stderr and counted; the
// exit status is 1 when any was.
#include <fstream>
#include <iostream>
#include <sstream>

#include <gflags/gflags.h>
#include <glog/logging.h>
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <torch/torch.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "chexworld/core/flags.h"
#include "chexworld/core/paths.h"
#include "chexworld/core/status_macros.h"
#include "chexworld/data/decode.h"
#include "chexworld/data/preprocessing.h"
#include "chexworld/models/checkpoint/safetensors.h"
#include "chexworld/models/checkpoint/state_dict.h"
#include "chexworld/models/checkpoint/torch_pickle.h"
#include "chexworld/models/encoder.h"
#include "chexworld/models/encoders/vit.pb.h"

DEFINE_string(export_dir, "", "an export folder (preprocessing.json, architecture.json, the weights)");
DEFINE_string(weights, "target_encoder.pt", "weights file in --export_dir (or a path): an encoder state dict");
DEFINE_string(images, "", "comma-separated image files (PNG, JPEG, DICOM)");
DEFINE_string(out, "embeddings.safetensors", "output safetensors file");
DEFINE_int32(threads, 1, "torch threads");

namespace chexworld {
namespace {

absl::StatusOr<std::string> Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot read"));
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// The encoder of architecture.json ({"encoder": {"name": "vit", "options": {...}}}).
absl::StatusOr<std::shared_ptr<Encoder>> BuildEncoder(const std::string& path) {
  ASSIGN_OR_RETURN(std::string text, Slurp(path));
  google::protobuf::Struct top;
  if (!google::protobuf::util::JsonStringToMessage(text, &top).ok() || !top.fields().count("encoder")) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": not an architecture.json (no \"encoder\")"));
  }
  const auto& enc = top.fields().at("encoder").struct_value();
  if (!enc.fields().count("name") || enc.fields().at("name").string_value() != "vit" || !enc.fields().count("options")) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": encoder.name must be \"vit\" with options"));
  }
  std::string options_json;
  (void)google::protobuf::util::MessageToJsonString(enc.fields().at("options").struct_value(), &options_json);
  ViTOptions options;
  if (auto s = google::protobuf::util::JsonStringToMessage(options_json, &options); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": encoder.options: ", s.ToString()));
  }
  ComponentSpec spec;
  spec.set_name("vit");
  spec.mutable_options()->PackFrom(options);
  return CreateEncoder(spec);
}

absl::Status Embed() {
  const std::string dir = UserPath(FLAGS_export_dir);
  ASSIGN_OR_RETURN(std::string spec_json, Slurp(dir + "/preprocessing.json"));
  ASSIGN_OR_RETURN(PreprocessingSpec spec, PreprocessingSpecFromJson(spec_json, dir + "/preprocessing.json"));
  ASSIGN_OR_RETURN(std::shared_ptr<Encoder> encoder, BuildEncoder(dir + "/architecture.json"));
  const std::string weights = FLAGS_weights.find('/') == std::string::npos ? dir + "/" + FLAGS_weights : UserPath(FLAGS_weights);
  ASSIGN_OR_RETURN(NamedTensors sd, ReadTorchStateDict(weights));
  auto loaded = LoadStateDict(*encoder, sd, LoadMode::kStrict);
  if (!loaded.ok()) return AddContext(loaded.status(), absl::StrCat("loading ", weights));
  if (spec.input_size() != encoder->image_size() || spec.channels() != encoder->in_channels()) {
    return absl::InvalidArgumentError(absl::StrCat("preprocessing.json gives ", spec.channels(), " x ", spec.input_size(),
                                                   " px inputs; the encoder takes ", encoder->in_channels(), " x ",
                                                   encoder->image_size()));
  }
  encoder->eval();
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> rows;
  std::map<std::string, std::string> meta = {{"weights", weights}, {"pooling", spec.pooling()}};
  int skipped = 0;
  for (absl::string_view image : absl::StrSplit(FLAGS_images, ',', absl::SkipEmpty())) {
    const std::string path = UserPath(std::string(image));
    auto decoded = DecodeImageFile(path);
    if (!decoded.ok()) {
      std::cerr << "skipped " << path << ": " << decoded.status().message() << "\n";
      ++skipped;
      continue;
    }
    std::vector<float> input = PrepareInput(decoded->image, spec);
    auto x = torch::from_blob(input.data(), {1, spec.channels(), spec.input_size(), spec.input_size()}).clone();
    meta[absl::StrCat("image_", rows.size())] = path;
    rows.push_back(encoder->Forward(x).mean(1).squeeze(0));
  }
  if (rows.empty()) return absl::InvalidArgumentError("no image embedded (give --images)");
  RETURN_IF_ERROR(SaveSafetensors({{"embeddings", torch::stack(rows)}}, UserPath(FLAGS_out), meta));
  std::cout << "embedded " << rows.size() << " image(s) into " << UserPath(FLAGS_out) << " ("
            << encoder->embed_dim() << " values each)";
  if (skipped > 0) std::cout << "; skipped " << skipped << " that did not decode";
  std::cout << "\n";
  return skipped > 0 ? absl::DataLossError(absl::StrCat(skipped, " image(s) skipped")) : absl::OkStatus();
}

}  // namespace
}  // namespace chexworld

int main(int argc, char** argv) {
  chexworld::ParseFlags("--export_dir=DIR --images=a.png,b.jpg [--weights=target_encoder.pt] [--out=FILE.safetensors]",
                        __FILE__, &argc, &argv);
  FLAGS_logtostderr = true;
  google::InitGoogleLogging(argv[0]);
  if (FLAGS_export_dir.empty()) {
    std::cerr << "error: --export_dir is required\n";
    return 2;
  }
  torch::set_num_threads(FLAGS_threads);
  absl::Status s = chexworld::Embed();
  if (!s.ok()) {
    std::cerr << "error: " << s.message() << "\n";
    return 1;
  }
  return 0;
}
