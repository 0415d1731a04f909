// Encoder forward, forward+backward and the full four-pass predictor step for
// vit_tiny / vit_small at 224 and 128 px. Reports images/s (items_per_second).
//
//   bazel run //benchmarks:models_bench -- --benchmark_repetitions=3
//       --benchmark_report_aggregates_only=true [--threads=2]
#include <benchmark/benchmark.h>
#include <gflags/gflags.h>

#include "chexworld/models/ema.h"
#include "chexworld/models/encoders/vit.h"
#include "chexworld/models/predictors/conditioned_transformer.h"
#include "chexworld/objectives/world_model_loss.h"

DEFINE_int32(threads, 2, "torch intra-op threads");

namespace chexworld {
namespace {

std::shared_ptr<VisionTransformerImpl> MakeViT(const std::string& preset, int image_size) {
  ViTOptions o;
  o.set_preset(preset);
  o.set_image_size(image_size);
  o.set_in_channels(1);
  return std::make_shared<VisionTransformerImpl>(*ResolveViTOptions(o));
}

// Args: {preset index (0 tiny, 1 small), image size, batch}.
const char* Preset(int64_t i) { return i == 0 ? "tiny" : "small"; }

void BM_EncoderForward(benchmark::State& state) {
  torch::set_num_threads(FLAGS_threads);
  auto vit = MakeViT(Preset(state.range(0)), state.range(1));
  vit->eval();
  auto x = torch::randn({state.range(2), 1, state.range(1), state.range(1)});
  torch::NoGradGuard no_grad;
  for (auto _ : state) benchmark::DoNotOptimize(vit->Forward(x).data_ptr());
  state.SetItemsProcessed(state.iterations() * state.range(2));
}

void BM_EncoderForwardBackward(benchmark::State& state) {
  torch::set_num_threads(FLAGS_threads);
  auto vit = MakeViT(Preset(state.range(0)), state.range(1));
  auto x = torch::randn({state.range(2), 1, state.range(1), state.range(1)});
  for (auto _ : state) {
    vit->zero_grad();
    vit->Forward(x).pow(2).mean().backward();
  }
  state.SetItemsProcessed(state.iterations() * state.range(2));
}

// The world-model loss forward + backward (2 target passes, 2 context passes,
// 4 predictor passes) with official-like mask sizes (~27% context, ~29% targets).
void BM_WorldModelStep(benchmark::State& state) {
  torch::set_num_threads(FLAGS_threads);
  const int64_t size = state.range(1), b = state.range(2);
  auto enc = MakeViT(Preset(state.range(0)), size);
  auto target = MakeTargetEncoder(*enc);
  const int64_t g = enc->grid_size(), n = g * g;
  ConditionedTransformerOptions po;
  po.set_embed_dim(enc->embed_dim() <= 192 ? 192 : 384);
  PredictorContext ctx{enc->embed_dim(), enc->num_heads(), g, g};
  auto pred = std::make_shared<ConditionedTransformerImpl>(*ResolveConditionedTransformerOptions(po, ctx), ctx);
  const int64_t ke = std::max<int64_t>(1, n * 27 / 100), kp = std::max<int64_t>(1, n * 29 / 100);
  auto perm = [&](int64_t k) {
    return std::get<0>(torch::randperm(n).slice(0, 0, k).sort()).unsqueeze(0).repeat({b, 1});
  };
  WorldModelBatch batch;
  batch.image1 = torch::randn({b, 1, size, size});
  batch.image2 = torch::randn({b, 1, size, size});
  batch.image_aug1 = torch::randn({b, 1, size, size});
  batch.image_aug2 = torch::randn({b, 1, size, size});
  batch.action1 = batch.action2 = torch::tensor({1.1, 0.9, 1.2, 0.0, 0.0}).repeat({b, 1});
  batch.rel_pos_21 = batch.rel_pos_12 = torch::tensor({0.2, -0.1, 0.0, 1.0}).repeat({b, 1});
  batch.masks_enc1 = batch.masks_enc2 = perm(ke);
  batch.masks_pred1 = batch.masks_pred2 = perm(kp);
  for (auto _ : state) {
    enc->zero_grad();
    pred->zero_grad();
    auto terms = ComputeWorldModelLoss(*enc, *target, *pred, batch, WorldModelLossOptions());
    terms.loss.backward();
  }
  state.SetItemsProcessed(state.iterations() * b);
}

// The machine's fp32 GEMM peak through libtorch (2 * n^3 FLOP per product),
// the yardstick for the training step's efficiency (FLOPs per METHOD 9.1).
void BM_Sgemm(benchmark::State& state) {
  torch::set_num_threads(FLAGS_threads);
  const int64_t n = state.range(0);
  auto a = torch::randn({n, n}), b = torch::randn({n, n});
  for (auto _ : state) benchmark::DoNotOptimize(torch::matmul(a, b).data_ptr());
  state.counters["GFLOP/s"] = benchmark::Counter(2.0 * n * n * n * 1e-9 * state.iterations(), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_Sgemm)->Arg(512)->Arg(1024)->Arg(2048)->Unit(benchmark::kMillisecond)->UseRealTime();

void Sizes(benchmark::internal::Benchmark* bm) {
  for (int preset : {0, 1}) {
    for (int size : {128, 224}) {
      for (int batch : {8, 32}) bm->Args({preset, size, batch});
    }
  }
  bm->ArgNames({"small", "px", "batch"})->Unit(benchmark::kMillisecond)->UseRealTime();
}

BENCHMARK(BM_EncoderForward)->Apply(Sizes);
BENCHMARK(BM_EncoderForwardBackward)->Apply(Sizes);
BENCHMARK(BM_WorldModelStep)->Apply(Sizes);

}  // namespace
}  // namespace chexworld

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  gflags::ParseCommandLineFlags(&argc, &argv, true);
  benchmark::RunSpecifiedBenchmarks();
  return 0;
}
