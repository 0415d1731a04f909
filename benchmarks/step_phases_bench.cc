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
#include <cstdio>
#include <functional>
#include <map>
#include <vector>

#include <gflags/gflags.h>
#include <torch/torch.h>

#include "benchmarks/synthetic_step.h"
#include "chexworld/core/flags.h"
#include "chexworld/train/cuda_util.h"

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

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

int Main() {
  torch::set_num_threads(FLAGS_threads);
  SyntheticStepOptions o;
  o.device = torch::Device(FLAGS_device);
  o.preset = FLAGS_preset;
  o.image_size = FLAGS_image_size;
  o.batch = FLAGS_batch;
  o.predictor_dim = FLAGS_predictor_dim;
  o.predictor_depth = FLAGS_predictor_depth;
  o.bf16 = FLAGS_bf16;
  const torch::Device device = o.device;
  SyntheticStep step(o);
  const StepShape shape = step.shape();
  const double flops = step.FlopsPerStep();
  const std::vector<std::pair<const char*, std::function<void()>>> phases = {
      {"forward", [&] { step.Forward(); }},
      {"backward", [&] { step.Backward(); }},
      {"optimizer", [&] { step.Optimize(); }},
      {"ema", [&] { step.Ema(); }},
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
    double total = 0;
    for (size_t k = 0; k < phases.size(); ++k) {
      ms[phases[k].first].push_back(phase_ms[k]);
      total += phase_ms[k];
    }
    ms["step"].push_back(total);
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
