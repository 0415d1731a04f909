// World-model analyses of a pretraining run (METHOD 7):
//
//   bazel run //experiments:analyze -- --run_dir=runs/kermany4/chexworld [--batches=4] [--set path=value ...]
//
// Loads the run's config and latest checkpoint (encoder, EMA target,
// predictor), draws held-out batches from the run's data pipeline (a seed and
// epoch the run never used), and writes <run_dir>/analyses.md and one bar
// chart PNG per analysis.
#include <iostream>

#include <gflags/gflags.h>
#include <glog/logging.h>

#include "absl/strings/str_cat.h"
#include "chexworld/core/config.h"
#include "chexworld/core/flags.h"
#include "chexworld/core/paths.h"
#include "chexworld/data/loader.h"
#include "chexworld/eval/analyses/analyses.h"
#include "chexworld/models/checkpoint/state_dict.h"
#include "chexworld/models/ema.h"
#include "chexworld/train/networks.h"
#include "chexworld/train/pretrainer.h"

DEFINE_string(run_dir, "", "pretraining run folder (config.textproto + checkpoints/)");
DEFINE_int32(batches, 4, "held-out batches to average over");

namespace chexworld {
namespace {

absl::Status Analyze(const std::string& run_dir, const std::vector<std::string>& sets) {
  ASSIGN_OR_RETURN(ExperimentConfig config, LoadExperimentConfig(run_dir + "/config.textproto", sets));
  torch::set_num_threads(config.run().threads() > 0 ? config.run().threads() : 2);
  const std::string ckpt = LatestCheckpoint(run_dir + "/checkpoints");
  if (ckpt.empty()) return absl::NotFoundError(absl::StrCat("no checkpoint in ", run_dir, "/checkpoints"));
  ASSIGN_OR_RETURN(WorldModelNetworks nets, BuildWorldModelNetworks(config));
  std::shared_ptr<Encoder> encoder = nets.encoder, target = nets.target;
  std::shared_ptr<Predictor> predictor = nets.predictor;
  std::shared_ptr<ViewTransform> transform = nets.transform;
  RETURN_IF_ERROR(LoadCheckpointNetworks(ckpt, encoder.get(), target.get(), predictor.get()));
  encoder->eval();
  target->eval();
  predictor->eval();
  ASSIGN_OR_RETURN(std::shared_ptr<Dataset> dataset, CreateDataset(config.data().dataset()));
  ASSIGN_OR_RETURN(std::shared_ptr<Masker> masker, CreateMasker(config.data().masker()));
  LoaderOptions lo;
  lo.batch_size = std::min<int>(config.data().batch_size(), 32);
  lo.num_workers = 1;
  lo.seed = config.run().seed() + 1000003;  // held-out draws: another seed than training
  lo.channels = static_cast<int>(encoder->in_channels());
  lo.patch_size = static_cast<int>(encoder->patch_size());
  ASSIGN_OR_RETURN(std::unique_ptr<PretrainLoader> loader, PretrainLoader::Create(dataset, transform, masker, lo));
  loader->Start(/*epoch=*/7777);
  WorldModel m{encoder.get(), target.get(), predictor.get()};
  std::vector<AnalysisResult> sums;
  int used = 0;
  for (int i = 0; i < FLAGS_batches; ++i) {
    ASSIGN_OR_RETURN(std::optional<WorldModelBatch> b, loader->Next());
    if (!b.has_value()) break;
    std::vector<AnalysisResult> r = {MaskedPatchRetrieval(m, *b), CrossCropPrediction(m, *b), ActionConditioning(m, *b)};
    if (sums.empty()) {
      sums = r;
    } else {
      for (size_t k = 0; k < r.size(); ++k)
        for (size_t c = 0; c < r[k].conditions.size(); ++c)
          for (auto& [name, v] : sums[k].conditions[c].second) v += r[k].conditions[c].second[name];
    }
    ++used;
  }
  for (auto& s : sums)
    for (auto& [cond, metrics] : s.conditions)
      for (auto& [k, v] : metrics) v /= used;
  const std::string md = absl::StrCat("### World-model analyses: ", run_dir, "\n\ncheckpoint ", ckpt, ", ", used,
                                      " held-out batches of ", lo.batch_size, "\n\n", ToMarkdown(sums));
  std::cout << md;
  RETURN_IF_ERROR(WriteFileAtomically(run_dir + "/analyses.md", md));
  struct Chart {
    const char* file;
    const char* metric;
    const char* title;
    const char* ylabel;
  };
  const Chart charts[3] = {
      {"analysis_local_retrieval.svg", "retrieval_top1", "Local structure: masked-patch retrieval", "top-1 retrieval accuracy"},
      {"analysis_global_offset.svg", "mse", "Global layout: cross-crop prediction", "MSE to target tokens (lower = better)"},
      {"analysis_domain_action.svg", "mse", "Domain variation: action conditioning", "MSE to clean-view tokens (lower = better)"}};
  for (int k = 0; k < 3 && k < static_cast<int>(sums.size()); ++k) {
    RETURN_IF_ERROR(WriteFileAtomically(run_dir + "/" + charts[k].file,
                                        AnalysisFigure(sums[k], charts[k].metric, charts[k].title, charts[k].ylabel)));
  }
  return absl::OkStatus();
}

}  // namespace
}  // namespace chexworld

int main(int argc, char** argv) {
  std::vector<std::string> sets = chexworld::ExtractRepeatedFlag("set", &argc, &argv);
  chexworld::ParseFlags("--run_dir=DIR [--batches=4] [--set path=value ...] (world-model analyses of a pretraining run)", __FILE__, &argc, &argv);
  FLAGS_logtostderr = true;
  google::InitGoogleLogging(argv[0]);
  if (FLAGS_run_dir.empty()) {
    std::cerr << "error: --run_dir is required\n";
    return 2;
  }
  absl::Status s = chexworld::Analyze(chexworld::UserPath(FLAGS_run_dir), sets);
  if (!s.ok()) {
    std::cerr << "error: " << s.message() << "\n";
    return 1;
  }
  return 0;
}
