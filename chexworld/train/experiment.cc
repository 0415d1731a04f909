#include "chexworld/train/experiment.h"

#include <glog/logging.h>

#include "chexworld/core/status_macros.h"
#include "chexworld/models/ema.h"
#include "chexworld/models/encoder.h"
#include "chexworld/models/predictor.h"
#include "chexworld/train/runtime.h"

namespace chexworld {
namespace {

int64_t CountParameters(const torch::nn::Module& m, bool trainable_only) {
  int64_t n = 0;
  for (const auto& p : m.parameters()) {
    if (!trainable_only || p.requires_grad()) n += p.numel();
  }
  return n;
}

}  // namespace

absl::Status RunExperiment(const ExperimentConfig& config, const std::string& run_dir, bool resume) {
  ASSIGN_OR_RETURN(torch::Device device, ConfigureRuntime(config.run()));
  torch::manual_seed(config.run().seed());
  ASSIGN_OR_RETURN(std::shared_ptr<Encoder> encoder, CreateEncoder(config.model().encoder()));
  encoder->to(device);
  LOG(INFO) << "encoder '" << config.model().encoder().name() << "': " << CountParameters(*encoder, true)
            << " trainable parameters, width " << encoder->embed_dim() << ", grid " << encoder->grid_size() << "x"
            << encoder->grid_size();
  if (config.model().has_predictor()) {
    PredictorContext ctx{encoder->embed_dim(), encoder->num_heads(), encoder->grid_size(), encoder->grid_size()};
    ASSIGN_OR_RETURN(std::shared_ptr<Predictor> predictor, CreatePredictor(config.model().predictor(), ctx));
    predictor->to(device);
    LOG(INFO) << "predictor '" << config.model().predictor().name() << "': " << CountParameters(*predictor, true)
              << " trainable parameters";
  }
  (void)run_dir;
  (void)resume;
  return absl::OkStatus();
}

}  // namespace chexworld
