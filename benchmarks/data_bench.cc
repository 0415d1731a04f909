// Data-path throughput: shard random reads, JPEG/PNG decode, the dual-view
// transform, a full pretraining loader epoch and an evaluation pass over the
// same images (with 0, 1 and 2 worker threads). Reports images/s
// (items_per_second). Builds its own phantom shards in $TMPDIR.
//
//   bazel run //benchmarks:data_bench -- --benchmark_repetitions=3 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include <random>

#include "chexworld/core/config.h"
#include "chexworld/core/paths.h"
#include "chexworld/data/dataset.h"
#include "chexworld/data/decode.h"
#include "chexworld/data/loader.h"
#include "chexworld/data/phantom.h"
#include "chexworld/data/resize.h"
#include "chexworld/data/transforms/dual_view.h"
#include "chexworld/eval/evaluator.h"
#include "chexworld/eval/task_data.h"
#include "chexworld/data/transforms/transform.h"
#include "chexworld/masks/multiblock.h"

namespace chexworld {
namespace {

std::string Dir() { return std::string(std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "/tmp") + "/chexworld_bench"; }

std::shared_ptr<Dataset> Phantom(int n, int size) {
  ComponentSpec spec;
  ParseTextProto("name: \"phantom\" options { [type.googleapis.com/chexworld.PhantomDatasetOptions] { num_images: " +
                     std::to_string(n) + " image_size: " + std::to_string(size) + " cache_dir: \"" + Dir() + "\" } }",
                 "bench", &spec)
      .IgnoreError();
  return *CreateDataset(spec);
}

std::shared_ptr<ViewTransform> DualView(int out) {
  ComponentSpec spec;
  ParseTextProto("name: \"dual_view\" options { [type.googleapis.com/chexworld.DualViewOptions] { output_size: " +
                     std::to_string(out) + " } }", "bench", &spec)
      .IgnoreError();
  return *CreateViewTransform(spec);
}

void BM_ShardRandomRead(benchmark::State& state) {
  auto ds = Phantom(512, static_cast<int>(state.range(0)));
  std::mt19937_64 rng(1);
  ShardSample s;
  for (auto _ : state) {
    auto st = ds->Read(static_cast<int64_t>(rng() % ds->size()), &s);
    benchmark::DoNotOptimize(st);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ShardRandomRead)->Arg(160)->Arg(256)->Unit(benchmark::kMicrosecond);

void BM_DecodePng(benchmark::State& state) {
  PhantomOptions o;
  o.image_size = static_cast<int>(state.range(0));
  std::string png = *EncodePng8(MakePhantom(o, 0, 0).image);
  for (auto _ : state) benchmark::DoNotOptimize(DecodeImageBytes(png, "bench.png"));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_DecodePng)->Arg(256)->Arg(1024)->Unit(benchmark::kMicrosecond);

void BM_DecodeJpeg(benchmark::State& state) {
  const std::string shared = SharedDataDir();
  if (shared.empty()) {
    state.SkipWithError("../shared/data absent");
    return;
  }
  std::string jpeg = *ReadFile(shared + "/data/kermany4/train/Normal/0.jpg");
  for (auto _ : state) benchmark::DoNotOptimize(DecodeImageBytes(jpeg, "bench.jpg"));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_DecodeJpeg)->Unit(benchmark::kMicrosecond);

void BM_DualViewTransform(benchmark::State& state) {
  PhantomOptions o;
  o.image_size = 160;
  GrayImage img = MakePhantom(o, 0, 0).image;
  auto t = DualView(static_cast<int>(state.range(0)));
  std::mt19937_64 rng(3);
  for (auto _ : state) benchmark::DoNotOptimize(t->Apply(img, rng));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_DualViewTransform)->Arg(128)->Arg(224)->Unit(benchmark::kMicrosecond);

// A full epoch of 512 images, batches of 32 at 128 px (vit_tiny/128 pretraining), from shards.
void BM_LoaderEpoch(benchmark::State& state) {
  auto ds = Phantom(512, 160);
  MultiblockOptions mo;
  mo.set_min_keep(4);
  auto masker = std::make_shared<MultiblockMasker>(*ResolveMultiblockOptions(mo));
  LoaderOptions lo;
  lo.batch_size = 32;
  lo.num_workers = static_cast<int>(state.range(0));
  lo.patch_size = 16;
  auto loader = *PretrainLoader::Create(ds, DualView(128), masker, lo);
  int64_t epoch = 0;
  for (auto _ : state) {
    loader->Start(epoch++);
    while (true) {
      auto b = loader->Next();
      if (!b.ok() || !b->has_value()) break;
    }
  }
  state.SetItemsProcessed(state.iterations() * loader->batches_per_epoch() * lo.batch_size);
}
BENCHMARK(BM_LoaderEpoch)->Arg(0)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();

// The same 512 images as an evaluation reads them: one streamed pass (read,
// resize to 128 px, normalise, collate batches of 32) with 0, 1 or 2 workers
// (0: on the calling thread), as a frozen-feature pass or a fine-tuning epoch
// (Arg 1 = 1: with the crop / flip / jitter augmentation).
void BM_EvalImagePass(benchmark::State& state) {
  Phantom(512, 160);  // packs the shards once
  EvalData d;
  ParseTextProto("dataset { name: \"phantom\" options { [type.googleapis.com/chexworld.PhantomDatasetOptions] { "
                 "num_images: 512 image_size: 160 cache_dir: \"" + Dir() + "\" } } } duplicate_max_distance: -1",
                 "bench", &d)
      .IgnoreError();
  d.set_num_workers(state.range(0) == 0 ? -1 : static_cast<int>(state.range(0)));
  auto data = LoadTaskData(d, 128);
  if (!data.ok()) {
    state.SkipWithError(std::string(data.status().message()).c_str());
    return;
  }
  ImagePass pass = PassFor(AllImages(*data), 1, "imagenet", torch::kCPU, 32);
  if (state.range(1) == 1) {
    pass.alter = [](int64_t k, GrayImage* image) {
      std::mt19937_64 rng(static_cast<uint64_t>(k));
      const Box box = SampleCropBox(image->height, image->width, 0.4, 1.0, 3.0 / 4, 4.0 / 3, rng);
      *image = CropResize(*image, box, image->height, image->width, k % 2 == 0);
      Action a = kIdentityAction;
      a[0] = 1.1f;
      a[1] = 0.9f;
      ApplyAppearance(image, a);
    };
  }
  for (auto _ : state) {
    ImageStream stream(*data, pass);
    while (true) {
      auto b = stream.Next();
      if (!b.ok() || !b->has_value()) break;
    }
  }
  state.SetItemsProcessed(state.iterations() * data->n);
}
BENCHMARK(BM_EvalImagePass)
    ->ArgsProduct({{0, 1, 2}, {0, 1}})
    ->ArgNames({"workers", "augment"})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace
}  // namespace chexworld

BENCHMARK_MAIN();
