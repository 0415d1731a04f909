// One pretraining step split into its phases, on CPU or CUDA: forward (the
// registered "chexworld" objective, four predictor passes), backward,
// optimizer (registered AdamW over the official parameter groups) and EMA.
// The phases run back to back as the trainer runs them; on CUDA each is timed
// by events on the stream (no synchronisation between phases: the device
// time of each), on CPU by the clock. The "step" row is the whole step.
// Prints the median of --steps timed steps after --warmup, images/s, model
// TFLOP/s (METHOD 9.1) and, on CUDA, the caching allocator's peak allocated
// and reserved bytes and the device memory in use.
//
//   bazel run //benchmarks:step_phases_bench -- --device=cuda --preset=base --image_size=224 --batch=128 --bf16
//   bazel run //benchmarks:step_phases_bench -- --preset=tiny --image_size=64 --batch=16 --threads=2
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <map>
#include <random>
#include <vector>

#include <gflags/gflags.h>
#include <torch/torch.h>

#include "chexworld/core/flags.h"
#include "chexworld/masks/multiblock.h"
#include "chexworld/models/ema.h"
#include "chexworld/models/encoders/vit.h"
#include "chexworld/models/predictors/conditioned_transformer.h"
#include "chexworld/objectives/objective.h"
#include "chexworld/train/autocast.h"
#include "chexworld/train/cuda_util.h"
#include "chexworld/train/flops.h"
#include "chexworld/train/param_groups.h"
#include "chexworld/train/runtime.h"
#include "chexworld/train/schedules.h"

DEFINE_string(device, "cpu", "torch device: cpu, cuda, cuda:1");
DEFINE_string(preset, "tiny", "ViT preset: tiny, small, base, large");
DEFINE_int32(image_size, 224, "image size (px)");
DEFINE_int32(batch, 16, "images per step");
DEFINE_int32(predictor_dim, 384, "predictor width (official 384)");
DEFINE_int32(predictor_depth, 6, "predictor blocks (official 6)");
DEFINE_bool(bf16, false, "bf16 autocast for the forward passes");
DEFINE_int32(threads, 2, "torch intra-op threads (CPU)");
DEFINE_int32(warmup, 3, "untimed steps first");
DEFINE_int32(steps, 10, "timed steps (the median is reported)");

namespace chexworld {
namespace {

WorldModelBatch SyntheticBatch(int64_t b, int64_t size, int64_t grid, const torch::Device& device) {
  MultiblockMasker masker(*ResolveMultiblockOptions(MultiblockOptions()));
  std::mt19937_64 rng(0);
  MaskBatch m = masker.Sample(b, grid, grid, 0, rng);
  WorldModelBatch batch;
  batch.image1 = torch::randn({b, 1, size, size});
  batch.image2 = torch::randn({b, 1, size, size});
  batch.image_aug1 = torch::randn({b, 1, size, size});
  batch.image_aug2 = torch::randn({b, 1, size, size});
  batch.action1 = batch.action2 = torch::tensor({1.1f, 0.9f, 1.2f, 0.0f, 0.0f}).repeat({b, 1});
  batch.rel_pos_21 = batch.rel_pos_12 = torch::tensor({0.2f, -0.1f, 0.0f, 1.0f}).repeat({b, 1});
  batch.masks_enc1 = torch::from_blob(m.context.data(), {b, m.context_len}, torch::kInt64).clone();
  batch.masks_pred1 = torch::from_blob(m.target.data(), {b, m.target_len}, torch::kInt64).clone();
  batch.masks_enc2 = batch.masks_enc1.flip(0);
  batch.masks_pred2 = batch.masks_pred1.flip(0);
  return batch.Packed(/*pin=*/device.is_cuda()).To(device);
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

int Main() {
  torch::set_num_threads(FLAGS_threads);
  const torch::Device device(FLAGS_device);
  ViTOptions vo;
  vo.set_preset(FLAGS_preset);
  vo.set_image_size(FLAGS_image_size);
  vo.set_in_channels(1);
  auto enc = std::make_shared<VisionTransformerImpl>(*ResolveViTOptions(vo));
  enc->to(device);
  auto target = MakeTargetEncoder(*enc);
  const int64_t g = enc->grid_size();
  ConditionedTransformerOptions po;
  po.set_embed_dim(FLAGS_predictor_dim);
  po.set_depth(FLAGS_predictor_depth);
  PredictorContext ctx{enc->embed_dim(), enc->num_heads(), g, g};
  auto pred = std::make_shared<ConditionedTransformerImpl>(*ResolveConditionedTransformerOptions(po, ctx), ctx);
  pred->to(device);
  ComponentSpec spec;
  spec.set_name("chexworld");
  std::shared_ptr<Objective> objective = *CreateObjective(spec);
  ComponentSpec adamw;
  adamw.set_name("adamw");
  std::shared_ptr<TrainOptimizer> optimizer = *CreateOptimizer(adamw, WorldModelParamGroups(*enc, *pred));
  optimizer->SetHyperparameters(1e-4, 0.04);
  std::vector<torch::Tensor> params;
  for (const auto& list : {enc->parameters(), pred->parameters()}) {
    for (const auto& p : list) {
      if (p.requires_grad()) params.push_back(p);
    }
  }
  std::unique_ptr<EmaUpdater> ema = *EmaUpdater::Create(*target, *enc);
  const WorldModelBatch batch = SyntheticBatch(FLAGS_batch, FLAGS_image_size, g, device);
  StepShape shape;
  shape.tokens = g * g;
  shape.patch = enc->patch_size();
  shape.channels = 1;
  shape.enc_dim = enc->embed_dim();
  shape.enc_depth = enc->depth();
  shape.pred_dim = FLAGS_predictor_dim;
  shape.pred_depth = FLAGS_predictor_depth;
  shape.context = batch.masks_enc1.size(1);
  shape.target = batch.masks_pred1.size(1);
  const double flops = StepFlopsPerImage(shape) * FLAGS_batch;

  ObjectiveOutput out;
  const std::vector<std::pair<const char*, std::function<void()>>> phases = {
      {"forward", [&] {
         AutocastGuard autocast(device, FLAGS_bf16);
         out = objective->Compute(*enc, *target, *pred, batch);
       }},
      {"backward", [&] { out.loss.to(torch::kFloat32).backward(); }},
      {"optimizer", [&] {
         optimizer->Step();
         for (auto& p : params) p.mutable_grad().reset();
       }},
      {"ema", [&] { ema->Update(0.996); }},
  };
  std::map<std::string, std::vector<double>> ms;
  PhaseTimer timer(device);
  ResetCudaPeaks(device);
  CudaMemory peak;
  for (int i = 0; i < FLAGS_warmup + FLAGS_steps; ++i) {
    timer.Mark();
    for (const auto& [name, run] : phases) {
      run();
      timer.Mark();
    }
    const std::vector<double> phase_ms = timer.Milliseconds();  // waits for the step's last event
    if (i < FLAGS_warmup) continue;
    double step = 0;
    for (size_t k = 0; k < phases.size(); ++k) {
      ms[phases[k].first].push_back(phase_ms[k]);
      step += phase_ms[k];
    }
    ms["step"].push_back(step);
    const CudaMemory m = ReadCudaMemory(device);
    peak.in_use = std::max(peak.in_use, m.in_use);
    peak.peak_allocated = std::max(peak.peak_allocated, m.peak_allocated);
    peak.peak_reserved = std::max(peak.peak_reserved, m.peak_reserved);
  }
  std::printf("device %s, vit_%s/%d, batch %d, predictor %dx%d, %s, Ke %ld, Kp %ld; median of %d steps\n",
              device.str().c_str(), FLAGS_preset.c_str(), FLAGS_image_size, FLAGS_batch, FLAGS_predictor_dim,
              FLAGS_predictor_depth, FLAGS_bf16 ? "bf16 autocast" : "fp32", static_cast<long>(shape.context),
              static_cast<long>(shape.target), FLAGS_steps);
  for (const char* name : {"forward", "backward", "optimizer", "ema", "step"}) {
    std::printf("%-10s %9.2f ms\n", name, Median(ms[name]));
  }
  const double step_s = Median(ms["step"]) / 1000;
  std::printf("images/s %.1f, model %.1f GFLOP/image, %.2f TFLOP/s", FLAGS_batch / step_s,
              flops / FLAGS_batch / 1e9, flops / step_s / 1e12);
  if (peak.peak_allocated >= 0) {
    std::printf(", CUDA peak allocated %.2f GiB, peak reserved %.2f GiB, in use %.2f GiB",
                peak.peak_allocated / 1073741824.0, peak.peak_reserved / 1073741824.0, peak.in_use / 1073741824.0);
  }
  std::printf("\n");
  return 0;
}

}  // namespace
}  // namespace chexworld

int main(int argc, char** argv) {
  chexworld::ParseFlags("times the phases of one pretraining step (see the file's header)", __FILE__, &argc, &argv);
  return chexworld::Main();
}
