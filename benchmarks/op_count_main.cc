// Counts the operators one pretraining step dispatches, phase by phase
// (forward, backward, optimizer, EMA), with the composition a CUDA step has:
// SDPA attention (the fused CPU kernels off), bf16 autocast, one pass (no
// concurrent shards), multi-tensor AdamW, clipping and EMA. Runs on CPU
// tensors at a small batch: the count does not depend on either, and what a
// GPU step launches scales with it. benchmarks/official_reference_bench.py
// --count_ops counts the official step the same way on the same torch.
//
//   bazel run //benchmarks:op_count -- --preset=base
//   bazel run //benchmarks:op_count -- --preset=tiny --json
#include <algorithm>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include <gflags/gflags.h>
#include <torch/torch.h>
#include <torch/version.h>

#include "benchmarks/synthetic_step.h"
#include "chexworld/core/flags.h"
#include "chexworld/models/layers/fused_cpu_ops.h"
#include "chexworld/train/step_profiler.h"

DEFINE_string(preset, "base", "ViT preset (depth 12 for tiny, small and base)");
DEFINE_int32(image_size, 224, "image size (px)");
DEFINE_int32(batch, 2, "images per step (the count does not depend on it)");
DEFINE_int32(predictor_dim, 384, "predictor width (official 384)");
DEFINE_int32(predictor_depth, 6, "predictor blocks (official 6)");
DEFINE_bool(bf16, true, "bf16 autocast, as the GPU recipe");
DEFINE_bool(json, false, "also print one JSON line");
DEFINE_int32(top, 0, "print the N most frequent operators of each phase");

namespace chexworld {
namespace {

int Main() {
  torch::set_num_threads(2);
  SetFusedCpuKernels(false);  // SDPA, as on CUDA
  SyntheticStepOptions o;
  o.preset = FLAGS_preset;
  o.image_size = FLAGS_image_size;
  o.batch = FLAGS_batch;
  o.predictor_dim = FLAGS_predictor_dim;
  o.predictor_depth = FLAGS_predictor_depth;
  o.bf16 = FLAGS_bf16;
  SyntheticStep step(o);
  // One step first, so nothing made once is counted.
  step.Forward();
  step.Backward();
  step.Optimize();
  step.Ema();
  const std::vector<std::pair<const char*, std::function<void()>>> phases = {
      {"forward", [&] { step.Forward(); }},
      {"backward", [&] { step.Backward(); }},
      {"optimizer", [&] { step.Optimize(); }},
      {"ema", [&] { step.Ema(); }},
  };
  std::printf("chexworld step, vit_%s/%d (depth %ld), predictor %dx%d, %s, SDPA, multi-tensor AdamW and EMA; "
              "%ld parameter tensors; aten:: operators dispatched:\n",
              FLAGS_preset.c_str(), FLAGS_image_size, static_cast<long>(step.shape().enc_depth), FLAGS_predictor_dim,
              FLAGS_predictor_depth, FLAGS_bf16 ? "bf16 autocast" : "fp32", static_cast<long>(step.parameter_tensors()));
  std::string json = "{\"side\": \"chexworld\", \"config\": \"vit_" + FLAGS_preset + "/" + std::to_string(FLAGS_image_size) +
                     "\", \"torch\": \"" + TORCH_VERSION + "\"";
  int64_t total = 0;
  for (const auto& [name, run] : phases) {
    const OperatorCount c = CountOperators(run);
    total += c.aten;
    std::printf("  %-10s %6ld\n", name, static_cast<long>(c.aten));
    json += std::string(", \"") + name + "\": " + std::to_string(c.aten);
    if (FLAGS_top > 0) {
      std::vector<std::pair<int64_t, std::string>> top;
      for (const auto& [op, n] : c.by_name) top.emplace_back(-n, op);
      std::sort(top.begin(), top.end());
      for (int i = 0; i < FLAGS_top && i < static_cast<int>(top.size()); ++i) {
        std::printf("      %6ld %s\n", static_cast<long>(-top[i].first), top[i].second.c_str());
      }
    }
  }
  std::printf("  %-10s %6ld\n", "step", static_cast<long>(total));
  if (FLAGS_json) std::printf("%s, \"step\": %ld}\n", json.c_str(), static_cast<long>(total));
  return 0;
}

}  // namespace
}  // namespace chexworld

int main(int argc, char** argv) {
  chexworld::ParseFlags("counts the operators of one pretraining step (see the file's header)", __FILE__, &argc, &argv);
  return chexworld::Main();
}
