// Encoder forward, forward+backward and the full four-pass predictor step for
// vit_tiny / vit_small at 224 and 128 px, the GEMM ceiling, and the fused CPU
// kernels against libtorch's operators. Reports images/s (items_per_second);
// the step also reports its share of the GEMM ceiling (of_ceiling).
//
//   bazel run //benchmarks:models_bench -- --benchmark_repetitions=3
//       --benchmark_report_aggregates_only=true [--threads=2]
#include <benchmark/benchmark.h>
#include <gflags/gflags.h>

#include <array>
#include <chrono>

#include "chexworld/masks/multiblock.h"
#include "chexworld/models/ema.h"
#include "chexworld/models/encoders/vit.h"
#include "chexworld/models/layers/attention_core.h"
#include "chexworld/models/layers/fused_cpu_ops.h"
#include "chexworld/models/predictors/conditioned_transformer.h"
#include "chexworld/objectives/objective.h"
#include "chexworld/train/adamw.h"
#include "chexworld/train/flops.h"
#include "chexworld/train/param_groups.h"
#include "chexworld/train/sharded_step.h"

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

// The machine's fp32 GEMM ceiling at --threads: the best of 5 timed rounds
// of 1024 x 1024 x 1024 products (as BM_Sgemm/1024), measured once.
double CeilingGflops() {
  static const double ceiling = [] {
    torch::set_num_threads(FLAGS_threads);
    auto a = torch::randn({1024, 1024}), b = torch::randn({1024, 1024});
    double best = 0;
    for (int round = 0; round < 6; ++round) {
      const auto start = std::chrono::steady_clock::now();
      for (int i = 0; i < 10; ++i) benchmark::DoNotOptimize(torch::matmul(a, b).data_ptr());
      const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      if (round > 0) best = std::max(best, 10 * 2.0 * 1024 * 1024 * 1024 * 1e-9 / s);  // round 0 warms up
    }
    return best;
  }();
  return ceiling;
}

// The world-model loss forward + backward (2 target passes, 2 context passes,
// 4 predictor passes) of the registered "chexworld" objective, on masks from
// the official multiblock masker at this batch size (the batch-min lengths
// are reported as Ke and Kp), through the trainer's ShardedStep: the batch in one pass on all
// --threads, or as `shards` concurrent shards of --threads / shards threads
// (trainer.concurrent_shards), with the fused CPU kernels on (fused:1) or off
// (0: libtorch's LayerNorm, GELU and attention). Reports images/s, GFLOP/s
// and of_ceiling, the share of the machine's GEMM ceiling (CeilingGflops).
void BM_WorldModelStep(benchmark::State& state) {
  torch::set_num_threads(FLAGS_threads);
  const int64_t size = state.range(1), b = state.range(2);
  const int shards = static_cast<int>(state.range(3));
  const double ceiling = CeilingGflops();
  SetFusedCpuKernels(state.range(4) == 1);
  auto enc = MakeViT(Preset(state.range(0)), size);
  auto target = MakeTargetEncoder(*enc);
  const int64_t g = enc->grid_size(), n = g * g;
  ConditionedTransformerOptions po;
  po.set_embed_dim(enc->embed_dim() <= 192 ? 192 : 384);
  PredictorContext ctx{enc->embed_dim(), enc->num_heads(), g, g};
  const ConditionedTransformerOptions resolved = *ResolveConditionedTransformerOptions(po, ctx);
  auto pred = std::make_shared<ConditionedTransformerImpl>(resolved, ctx);
  MultiblockMasker masker(*ResolveMultiblockOptions(MultiblockOptions()));
  std::mt19937_64 rng(0);
  MaskBatch m = masker.Sample(b, g, g, 0, rng);
  auto as_tensor = [&](std::vector<int64_t>& v, int64_t len) {
    return torch::from_blob(v.data(), {b, len}, torch::kInt64).clone();
  };
  WorldModelBatch batch;
  batch.image1 = torch::randn({b, 1, size, size});
  batch.image2 = torch::randn({b, 1, size, size});
  batch.image_aug1 = torch::randn({b, 1, size, size});
  batch.image_aug2 = torch::randn({b, 1, size, size});
  batch.action1 = batch.action2 = torch::tensor({1.1, 0.9, 1.2, 0.0, 0.0}).repeat({b, 1});
  batch.rel_pos_21 = batch.rel_pos_12 = torch::tensor({0.2, -0.1, 0.0, 1.0}).repeat({b, 1});
  batch.masks_enc1 = as_tensor(m.context, m.context_len);
  batch.masks_pred1 = as_tensor(m.target, m.target_len);
  batch.masks_enc2 = batch.masks_enc1.flip(0);
  batch.masks_pred2 = batch.masks_pred1.flip(0);
  std::vector<torch::Tensor> params;
  for (const auto& m : {enc->parameters(), pred->parameters()}) {
    for (const auto& p : m) {
      if (p.requires_grad()) params.push_back(p);
    }
  }
  ShardedStep step(shards, std::max(1, FLAGS_threads / shards), torch::kCPU, /*bf16=*/false);
  ComponentSpec spec;
  spec.set_name("chexworld");
  std::shared_ptr<Objective> objective = *CreateObjective(spec);
  for (auto _ : state) {
    for (auto& p : params) p.mutable_grad().reset();
    step.ForwardBackward(*objective, *enc, *target, *pred, batch, params, 1.0);
  }
  state.SetItemsProcessed(state.iterations() * b);
  StepShape shape;
  shape.tokens = n;
  shape.patch = enc->patch_size();
  shape.channels = 1;
  shape.enc_dim = enc->embed_dim();
  shape.enc_depth = enc->depth();
  shape.pred_dim = resolved.embed_dim();
  shape.pred_depth = resolved.depth();
  shape.context = m.context_len;
  shape.target = m.target_len;
  const double flops = StepFlopsPerImage(shape);
  state.counters["GFLOP/s"] = benchmark::Counter(flops * 1e-9 * b * state.iterations(), benchmark::Counter::kIsRate);
  state.counters["of_ceiling"] =
      benchmark::Counter(flops * 1e-9 * b * state.iterations() / ceiling, benchmark::Counter::kIsRate);
  state.counters["ceiling_GFLOP/s"] = ceiling;
  state.counters["Ke"] = m.context_len;
  state.counters["Kp"] = m.target_len;
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

// The GEMMs a ViT-tiny step at 224 px, batch 16 is made of (M = 16 x 196
// tokens): the ceiling the whole step can reach against the square peak above.
// Args {M, K, N}: [M x K] x [K x N]; the backward's weight gradient is
// [K x M] x [M x N] (e.g. {192, 3136, 768}).
void BM_SgemmShapes(benchmark::State& state) {
  torch::set_num_threads(FLAGS_threads);
  const int64_t m = state.range(0), k = state.range(1), n = state.range(2);
  auto a = torch::randn({m, k}), b = torch::randn({k, n});
  for (auto _ : state) benchmark::DoNotOptimize(torch::mm(a, b).data_ptr());
  state.counters["GFLOP/s"] = benchmark::Counter(2.0 * m * n * k * 1e-9 * state.iterations(), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_SgemmShapes)
    ->Args({3136, 192, 576})    // qkv
    ->Args({3136, 192, 192})    // proj
    ->Args({3136, 192, 768})    // fc1
    ->Args({3136, 768, 192})    // fc2, and fc1's input gradient
    ->Args({192, 3136, 768})    // fc1 weight gradient
    ->ArgNames({"M", "K", "N"})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// Self-attention core forward + backward on a qkv output, fused CPU kernel
// (arg 0 = 1) against the composite reference (0). Args {fused, tokens, batch};
// vit_tiny widths (3 heads of 64).
void BM_AttentionCore(benchmark::State& state) {
  torch::set_num_threads(FLAGS_threads);
  const bool fused = state.range(0) == 1;
  const int64_t n = state.range(1), b = state.range(2), heads = 3, c = 192;
  auto qkv = torch::randn({b, n, 3 * c}).requires_grad_(true);
  auto g = torch::randn({b, n, c});
  const double scale = 1.0 / std::sqrt(64.0);
  for (auto _ : state) {
    auto out = fused ? AttentionCoreFusedCpu(qkv, heads, scale) : AttentionCoreReference(qkv, heads, scale);
    out.backward(g);
    qkv.mutable_grad().reset();
  }
  state.SetItemsProcessed(state.iterations() * b);
}
BENCHMARK(BM_AttentionCore)
    ->ArgsProduct({{0, 1}, {49, 196}, {16}})
    ->ArgNames({"fused", "tokens", "batch"})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

void Sizes(benchmark::internal::Benchmark* bm) {
  for (int preset : {0, 1}) {
    for (int size : {128, 224}) {
      for (int batch : {8, 16, 32}) bm->Args({preset, size, batch});
    }
  }
  bm->ArgNames({"small", "px", "batch"})->Unit(benchmark::kMillisecond)->UseRealTime();
}

BENCHMARK(BM_EncoderForward)->Apply(Sizes);
BENCHMARK(BM_EncoderForwardBackward)->Apply(Sizes);
// The three CPU configurations of benchmarks/train_step_bench.sh.
BENCHMARK(BM_WorldModelStep)->Apply([](benchmark::internal::Benchmark* bm) {
  for (auto [preset, size, batch] : std::vector<std::array<int, 3>>{{0, 128, 32}, {0, 224, 16}, {1, 224, 8}}) {
    for (int shards : {1, 2}) {
      for (int fused : {0, 1}) bm->Args({preset, size, batch, shards, fused});
    }
  }
  bm->ArgNames({"small", "px", "batch", "shards", "fused"})->Unit(benchmark::kMillisecond)->UseRealTime();
});

// LayerNorm forward + backward over [rows, width], fused (1) or libtorch (0).
void BM_LayerNorm(benchmark::State& state) {
  torch::set_num_threads(FLAGS_threads);
  const bool fused = state.range(0) == 1;
  const int64_t rows = state.range(1), d = state.range(2);
  auto x = torch::randn({rows, d}).requires_grad_(true);
  auto w = torch::ones({d}).requires_grad_(true), b = torch::zeros({d}).requires_grad_(true);
  auto g = torch::randn({rows, d});
  for (auto _ : state) {
    auto y = fused ? FusedLayerNorm(x, w, b, 1e-6) : torch::layer_norm(x, {d}, w, b, 1e-6);
    y.backward(g);
    for (auto* t : {&x, &w, &b}) t->mutable_grad().reset();
  }
  state.SetBytesProcessed(state.iterations() * rows * d * 4 * 5);  // x, y, dy, dx, x again
}
BENCHMARK(BM_LayerNorm)
    ->ArgsProduct({{0, 1}, {2048, 3136}, {192, 384}})
    ->ArgNames({"fused", "rows", "width"})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// fc1 + GELU forward + backward, [rows, width] -> [rows, 4 width]: fused (1)
// or Linear then GELU (0).
void BM_LinearGelu(benchmark::State& state) {
  torch::set_num_threads(FLAGS_threads);
  const bool fused = state.range(0) == 1;
  const int64_t rows = state.range(1), d = state.range(2);
  auto x = torch::randn({rows, d}).requires_grad_(true);
  auto w = (torch::randn({4 * d, d}) * 0.02).requires_grad_(true), b = torch::zeros({4 * d}).requires_grad_(true);
  auto g = torch::randn({rows, 4 * d});
  for (auto _ : state) {
    auto y = fused ? FusedLinearGelu(x, w, b) : torch::gelu(torch::nn::functional::linear(x, w, b));
    y.backward(g);
    for (auto* t : {&x, &w, &b}) t->mutable_grad().reset();
  }
  state.counters["GFLOP/s"] =
      benchmark::Counter(3 * 2.0 * rows * d * 4 * d * 1e-9 * state.iterations(), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_LinearGelu)
    ->ArgsProduct({{0, 1}, {2048, 3136}, {192, 384}})
    ->ArgNames({"fused", "rows", "width"})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// One AdamW step over ViT-Tiny + its predictor (192 x 6): libtorch's
// per-tensor AdamW::step (0) and ATen's multi-tensor kernels as the trainer
// runs them (1). (A hand-written one-pass CPU step took 21.4 ms here against
// 5.5 ms for ATen's fused kernel, and was retired.)
void BM_AdamWStep(benchmark::State& state) {
  torch::set_num_threads(FLAGS_threads);
  const int64_t impl = state.range(0);
  auto enc = MakeViT("tiny", 224);
  const int64_t g = enc->grid_size();
  ConditionedTransformerOptions po;
  po.set_embed_dim(192);
  PredictorContext ctx{enc->embed_dim(), enc->num_heads(), g, g};
  auto pred = std::make_shared<ConditionedTransformerImpl>(*ResolveConditionedTransformerOptions(po, ctx), ctx);
  const ParamGroups groups = WorldModelParamGroups(*enc, *pred);
  int64_t numel = 0;
  for (const auto* list : {&groups.decay, &groups.no_decay}) {
    for (const auto& [name, p] : *list) {
      p.mutable_grad() = torch::randn_like(p) * 1e-3;
      numel += p.numel();
    }
  }
  auto libtorch = MakeAdamW(groups, 1e-4, 0.05);
  MultiTensorAdamW multi(groups, 0.9, 0.999, 1e-8);
  multi.SetHyperparameters(1e-4, 0.05);
  for (auto _ : state) {
    if (impl == 0) libtorch->step();
    if (impl == 1) multi.Step();
  }
  state.SetBytesProcessed(state.iterations() * numel * 4 * 7);  // p, g, m, v read; p, m, v written
  state.counters["tensors"] = static_cast<double>(groups.decay.size() + groups.no_decay.size());
}
BENCHMARK(BM_AdamWStep)->DenseRange(0, 1)->ArgName("impl")->Unit(benchmark::kMillisecond)->UseRealTime();

// The EMA update as it was before EmaUpdater: a name look-up and mul_ + add_
// of a temporary per tensor (one pass each on float32 CPU tensors).
void EmaUpdateByName(torch::nn::Module& target, const torch::nn::Module& online, double m) {
  torch::NoGradGuard no_grad;
  auto online_params = online.named_parameters(/*recurse=*/true);
  for (auto& p : target.named_parameters(/*recurse=*/true)) {
    p.value().mul_(m).add_(online_params[p.key()] * (1.0 - m));
  }
}

// One EMA update of a ViT-Tiny target encoder: the update as it was (a name
// look-up and one pass per tensor: 0) and the trainer's (one lerp over one
// flat buffer, the momentum a device scalar: 1).
void BM_EmaUpdate(benchmark::State& state) {
  torch::set_num_threads(FLAGS_threads);
  auto enc = MakeViT("tiny", 224);
  auto target = MakeTargetEncoder(*enc);
  std::unique_ptr<EmaUpdater> ema;
  if (state.range(0) == 1) ema = *EmaUpdater::Create(*target, *enc);
  for (auto _ : state) {
    if (ema) {
      ema->Update(0.996);
    } else {
      EmaUpdateByName(*target, *enc, 0.996);
    }
  }
  int64_t numel = 0;
  for (const auto& p : enc->parameters()) numel += p.numel();
  state.SetBytesProcessed(state.iterations() * numel * 4 * 3);
}
BENCHMARK(BM_EmaUpdate)->DenseRange(0, 1)->ArgName("flat")->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace chexworld

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  gflags::ParseCommandLineFlags(&argc, &argv, true);
  benchmark::RunSpecifiedBenchmarks();
  return 0;
}
