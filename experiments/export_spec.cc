#include "experiments/export_spec.h"

#include <google/protobuf/util/json_util.h>

#include "absl/strings/str_cat.h"
#include "chexworld/core/config.h"
#include "chexworld/core/paths.h"
#include "chexworld/core/status_macros.h"
#include "chexworld/data/datasets.pb.h"
#include "chexworld/data/packing.h"
#include "chexworld/data/preprocessing.h"
#include "chexworld/data/transforms/dual_view.h"
#include "chexworld/models/encoders/vit.h"
#include "chexworld/models/predictors/conditioned_transformer.h"

namespace chexworld {
namespace {

std::string ToJson(const google::protobuf::Message& m) {
  google::protobuf::util::JsonPrintOptions o;
  o.preserve_proto_field_names = true;
  o.always_print_primitive_fields = true;
  std::string json;
  (void)google::protobuf::util::MessageToJsonString(m, &json, o);
  return json;
}

absl::StatusOr<ViTOptions> EncoderOptions(const ExperimentConfig& config) {
  const ComponentSpec& spec = config.model().encoder();
  ViTOptions o;
  if (spec.name() != "vit" || (spec.has_options() && !spec.options().UnpackTo(&o))) {
    return absl::UnimplementedError(absl::StrCat("model.encoder '", spec.name(), "' is not a vit: no architecture.json"));
  }
  return ResolveViTOptions(o);
}

}  // namespace

absl::StatusOr<PreprocessingSpec> MakePreprocessingSpec(const ExperimentConfig& config) {
  ASSIGN_OR_RETURN(ViTOptions vit, EncoderOptions(config));
  PreprocessingSpec spec;
  spec.set_decode(kDecodeDescription);
  spec.set_input_size(vit.image_size());
  spec.set_resample("antialiased_bicubic");
  spec.set_channels(vit.in_channels());
  spec.set_pooling("mean");
  DualViewOptions view;
  if (config.data().transform().has_options() && config.data().transform().options().UnpackTo(&view) &&
      !view.normalization().empty()) {
    spec.set_normalization(view.normalization());
  } else {
    spec.set_normalization("imagenet");
  }
  std::vector<float> mean, std;
  RETURN_IF_ERROR(NormalizationStats(spec.normalization(), vit.in_channels(), &mean, &std));
  for (size_t c = 0; c < mean.size(); ++c) spec.add_mean(mean[c]), spec.add_std(std[c]);

  const ComponentSpec& dataset = config.data().dataset();
  ShardsOptions shards;
  if (dataset.name() == "shards" && dataset.options().UnpackTo(&shards)) {
    ShardManifest manifest;
    const std::string path = UserPath(shards.manifest());
    if (ParseTextProtoFile(path, &manifest).ok() && manifest.has_packing()) {
      *spec.mutable_pack() = manifest.packing();
      spec.set_pack_source(absl::StrCat("the pretraining shards' manifest ", shards.manifest()));
    } else {
      spec.set_pack_source(absl::StrCat("packer defaults at the input size: ", shards.manifest(),
                                        " is not readable here or predates recorded packing rules"));
    }
  } else {
    spec.set_pack_source(absl::StrCat("packer defaults at the input size (pretrained on '", dataset.name(),
                                      "', not on packed shards)"));
  }
  if (spec.pack().size() == 0) {
    spec.mutable_pack()->set_size(vit.image_size());
    spec.mutable_pack()->set_remove_border(true);
    spec.mutable_pack()->set_border_threshold(0.04f);
  }
  RETURN_IF_ERROR(ResolvePackingRules(spec.mutable_pack()));
  RETURN_IF_ERROR(ValidatePreprocessingSpec(spec));
  return spec;
}

absl::StatusOr<std::string> ArchitectureJson(const ExperimentConfig& config) {
  ASSIGN_OR_RETURN(ViTOptions vit, EncoderOptions(config));
  std::string out = absl::StrCat("{\n  \"encoder\": {\"name\": \"vit\", \"options\": ", ToJson(vit), "}");
  const ComponentSpec& p = config.model().predictor();
  ConditionedTransformerOptions pred;
  if (p.name() == "conditioned_transformer" && (!p.has_options() || p.options().UnpackTo(&pred))) {
    PredictorContext context;
    context.encoder_dim = vit.embed_dim();
    context.encoder_heads = vit.num_heads();
    context.grid_h = context.grid_w = vit.image_size() / vit.patch_size();
    ASSIGN_OR_RETURN(pred, ResolveConditionedTransformerOptions(pred, context));
    absl::StrAppend(&out, ",\n  \"predictor\": {\"name\": \"conditioned_transformer\", \"options\": ", ToJson(pred),
                    ", \"encoder_dim\": ", context.encoder_dim, ", \"grid_h\": ", context.grid_h,
                    ", \"grid_w\": ", context.grid_w, "}");
  }
  return absl::StrCat(out, "\n}\n");
}

}  // namespace chexworld
