// The evaluator interface and its registry ("evaluator"), plus what every
// evaluator shares: encoder loading (this run's weights, a checkpoint, an
// official file, or random init), labelled data with seeded splits and label
// fractions, encoder passes streamed from the shards, and reporting with
// bootstrap intervals and paired comparisons.
#ifndef CHEXWORLD_EVAL_EVALUATOR_H_
#define CHEXWORLD_EVAL_EVALUATOR_H_

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "absl/status/statusor.h"
#include "chexworld/core/registry.h"
#include "chexworld/data/image.h"
#include "chexworld/eval/evaluators.pb.h"
#include "chexworld/eval/image_stream.h"
#include "chexworld/eval/metrics.h"
#include "chexworld/eval/shift_report.h"
#include "chexworld/eval/task_data.h"
#include "chexworld/models/encoder.h"
#include "chexworld/proto/experiment.pb.h"

namespace chexworld {

inline constexpr char kEvaluatorKind[] = "evaluator";

struct EvalContext {
  ExperimentConfig config;  // model.encoder builds the networks
  std::string run_dir;
  torch::Device device = torch::kCPU;
  std::string pretrained;   // this run's target encoder (state dict), "" if none
  int64_t image_size = 0;   // the configured encoder's input side (0 = build the encoder to find it)
};

// The model input side for `data`: its image_size, else the encoder's.
absl::StatusOr<int> InputSize(const EvalContext& context, const EvalData& data);

// Parameters and buffers of some modules, saved at the best validation score
// and restored for the test predictions.
class BestState {
 public:
  explicit BestState(std::vector<torch::nn::Module*> modules) : modules_(std::move(modules)) {}
  void Save();
  void Restore();
  bool saved() const { return !tensors_.empty(); }

 private:
  std::vector<torch::Tensor> All() const;
  std::vector<torch::nn::Module*> modules_;
  std::vector<torch::Tensor> tensors_;
};

struct EvalReport {
  std::string name;                       // evaluator name
  std::map<std::string, double> summary;  // "<encoder>/mean_auroc" -> value, for sweep tables
  std::string markdown;
};

class Evaluator {
 public:
  virtual ~Evaluator() = default;
  virtual absl::StatusOr<EvalReport> Run(const EvalContext& context) = 0;
};

inline absl::StatusOr<std::shared_ptr<Evaluator>> CreateEvaluator(const ComponentSpec& spec) {
  return CreateComponent<Evaluator>(kEvaluatorKind, spec);
}

// Builds the configured encoder and loads `source`'s weights (adapting
// positions, patch size and channels). `overrides` are --set style paths on
// the encoder spec (e.g. "options.drop_path_rate=0.1").
absl::StatusOr<std::shared_ptr<Encoder>> LoadEncoder(const EvalContext& context, const EncoderSource& source,
                                                     const std::vector<std::string>& overrides = {});

// The encoder of an EncoderSource, loaded on first use and then kept (so a
// cached feature pass loads no weights).
class LazyEncoder {
 public:
  LazyEncoder(const EvalContext& context, EncoderSource source) : context_(&context), source_(std::move(source)) {}
  absl::StatusOr<std::shared_ptr<Encoder>> Get();
  const EncoderSource& source() const { return source_; }

 private:
  const EvalContext* context_;
  EncoderSource source_;
  std::shared_ptr<Encoder> encoder_;
};

// Some of a task's images, altered or not: the test images under a shift.
struct ImageSelection {
  std::vector<int64_t> rows;
  std::function<void(int64_t k, GrayImage* image)> alter;  // on loader workers; null: as stored
  std::string key;  // names `alter` for the feature cache ("" = unaltered)
};

// Every image of the task, unaltered.
ImageSelection AllImages(const TaskData& data);

// The ImagePass reading `selection` for `encoder` (its channels; pinned on CUDA).
ImagePass PassFor(const ImageSelection& selection, int channels, const std::string& normalization,
                  torch::Device device, int batch_size = 64);
inline ImagePass PassFor(const ImageSelection& selection, const Encoder& encoder, const std::string& normalization,
                         torch::Device device, int batch_size = 64) {
  return PassFor(selection, static_cast<int>(encoder.in_channels()), normalization, device, batch_size);
}

// Encoder outputs of a pass in eval mode, one streamed pass: mean-pooled
// (N, D) when `pooled`, else the tokens (N, T, D); on the CPU, as `dtype`.
absl::StatusOr<torch::Tensor> EncodeImages(Encoder& encoder, const TaskData& data, const ImagePass& pass,
                                           torch::Device device, bool pooled, torch::ScalarType dtype = torch::kFloat32);

// Test-set scores (N_test * C probabilities) of each encoder, evaluated with
// bootstrap intervals and paired tests against the first; writes
// <run_dir>/eval/<name>.json, .md, <name>_roc.svg and, with `shifts`,
// <name>_shifts.svg (classification_report.h).
absl::StatusOr<EvalReport> Report(const std::string& name, const EvalContext& context, const TaskData& data,
                                  const std::vector<std::string>& encoder_names,
                                  const std::vector<std::vector<double>>& test_scores, int bootstrap,
                                  const ShiftScores* shifts = nullptr);

// Sources to evaluate: the options' list, or this run's encoder.
std::vector<EncoderSource> SourcesOrPretrained(const google::protobuf::RepeatedPtrField<EncoderSource>& sources);

}  // namespace chexworld

#endif  // CHEXWORLD_EVAL_EVALUATOR_H_
