// Uses chexworld from another workspace: decode a DICOM (or any radiograph),
// embed it with an encoder restored from a checkpoint, and score with a metric.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "chexworld/data/decode.h"
#include "chexworld/data/phantom.h"
#include "chexworld/data/resize.h"
#include "chexworld/eval/metrics.h"
#include "chexworld/models/checkpoint/state_dict.h"
#include "chexworld/models/encoder.h"
#include "chexworld/models/encoders/vit.h"

using namespace chexworld;

torch::Tensor Embed(Encoder& encoder, const GrayImage& image) {
  GrayImage x = Resize(image, encoder.image_size(), encoder.image_size());
  auto t = torch::from_blob(x.pixels.data(), {1, 1, x.height, x.width}).clone();
  torch::NoGradGuard g;
  return encoder.Forward((t - 0.449) / 0.226).mean(1)[0];  // mean-pooled tokens
}

int main(int argc, char** argv) {
  torch::set_num_threads(2);
  // 1. A radiograph: the file given, else a phantom.
  GrayImage image;
  std::string what = "synthetic phantom";
  if (argc > 1) {
    auto decoded = DecodeImageFile(argv[1]);
    if (!decoded.ok()) {
      std::fprintf(stderr, "error: %s\n", std::string(decoded.status().message()).c_str());
      return 1;
    }
    image = decoded->image;
    what = argv[1] + std::string(" (") + decoded->photometric + ", " + decoded->windowing + ")";
  } else {
    image = MakePhantom(PhantomOptions(), 0, 0).image;
  }
  // 2. An encoder restored from a checkpoint (here: one we save first, as a
  //    trained run's target_encoder.pt would be).
  ViTOptions o;
  o.set_preset("tiny");
  o.set_depth(2);
  o.set_image_size(64);
  o.set_patch_size(8);
  o.set_in_channels(1);
  // By name through the registry, as a config names it (the component
  // registered itself when the library was loaded).
  ComponentSpec spec;
  spec.set_name("vit");
  spec.mutable_options()->PackFrom(o);
  auto made = CreateEncoder(spec);
  if (!made.ok()) {
    std::fprintf(stderr, "error: %s\n", std::string(made.status().message()).c_str());
    return 1;
  }
  std::shared_ptr<Encoder> trained = *made;
  const std::string path = std::string(std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "/tmp") + "/reuse_encoder.pt";
  if (!SaveStateDict(GetStateDict(*trained), path).ok()) return 1;
  auto encoder = std::make_shared<VisionTransformerImpl>(*ResolveViTOptions(o));
  auto weights = ReadTorchStateDict(path);
  if (!weights.ok() || !LoadStateDict(*encoder, *weights, LoadMode::kStrict).ok()) {
    std::fprintf(stderr, "error: cannot load %s\n", path.c_str());
    return 1;
  }
  encoder->eval();
  auto e = Embed(*encoder, image);
  // 3. Score: cosine similarity to phantoms with and without an opacity, and
  //    the AUROC of that similarity as an opacity detector.
  std::vector<double> scores, labels;
  for (int i = 0; i < 40; ++i) {
    PhantomImage p = MakePhantom(PhantomOptions(), 1, i);
    scores.push_back(torch::cosine_similarity(e, Embed(*encoder, p.image), 0).item<double>());
    labels.push_back(p.labels[0]);
  }
  std::printf("image: %s, %dx%d\nembedding: %lld dims, norm %.3f\nAUROC of similarity as an opacity score: %.3f\n",
              what.c_str(), image.height, image.width, static_cast<long long>(e.numel()), e.norm().item<double>(),
              Auroc(scores, labels));
  return 0;
}
