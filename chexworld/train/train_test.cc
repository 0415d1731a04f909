// Schedules against the official cosine_scheduler values, and TensorBoard
// event files (framing, CRC-32C, protos).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <iterator>

#include "chexworld/core/config.h"
#include "chexworld/train/flops.h"
#include "chexworld/train/adamw.h"
#include "chexworld/train/param_groups.h"
#include "chexworld/train/schedules.h"
#include "chexworld/train/step_profiler.h"
#include "chexworld/train/tensorboard.h"

namespace chexworld {
namespace {

std::shared_ptr<Schedule> Cosine(const std::string& opts, ScheduleHorizon h) {
  ComponentSpec spec;
  EXPECT_TRUE(ParseTextProto("name: \"cosine\" options { [type.googleapis.com/chexworld.CosineScheduleOptions] { " + opts +
                                 " } }", "spec", &spec).ok());
  auto s = CreateSchedule(spec, h);
  EXPECT_TRUE(s.ok()) << s.status();
  return *s;
}

// METHOD 5: 300 epochs, L = 508 micro-batches per epoch, ipe_scale 1.25 ->
// schedules over floor(1.25 * 508) = 635 iterations per epoch, indexed with
// it = 508 * epoch.
TEST(ScheduleTest, OfficialLearningRateAndEmaSamples) {
  ScheduleHorizon h{300, 635};
  auto lr = Cosine("base_value: 2e-4 final_value: 1e-6 warmup_epochs: 40", h);
  auto ema = Cosine("base_value: 0.996 final_value: 1.0", h);
  auto at = [](int epoch) { return static_cast<int64_t>(508) * epoch; };
  EXPECT_EQ(lr->Value(0), 0.0);
  EXPECT_NEAR(lr->Value(at(10)), 4.0e-5, 1e-6);
  EXPECT_NEAR(lr->Value(at(40)), 1.6e-4, 1e-6);
  EXPECT_NEAR(lr->Value(at(50)), 2.0e-4, 1e-6);
  EXPECT_NEAR(lr->Value(at(150)), 1.57e-4, 1e-6);
  EXPECT_NEAR(lr->Value(at(299)), 2.7e-5, 1e-6);
  EXPECT_NEAR(ema->Value(at(40)), 0.99611, 1e-5);
  EXPECT_NEAR(ema->Value(at(150)), 0.99738, 1e-5);
  EXPECT_NEAR(ema->Value(at(299)), 0.99961, 1e-5);
}

TEST(ScheduleTest, WarmupLongerThanTrainingIsRejected) {
  ComponentSpec spec;
  ASSERT_TRUE(ParseTextProto("name: \"cosine\" options { [type.googleapis.com/chexworld.CosineScheduleOptions] { warmup_epochs: 5 } }",
                             "spec", &spec).ok());
  auto s = CreateSchedule(spec, ScheduleHorizon{5, 10});
  EXPECT_THAT(std::string(s.status().message()), ::testing::HasSubstr("warmup_epochs = 5"));
}

TEST(TensorBoardTest, Crc32cKnownVector) {
  EXPECT_EQ(Crc32c("123456789", 9), 0xE3069283u);
}

TEST(TensorBoardTest, EventsRoundTrip) {
  const std::string dir = std::string(std::getenv("TEST_TMPDIR")) + "/tb";
  auto w = EventWriter::Create(dir);
  ASSERT_TRUE(w.ok()) << w.status();
  (*w)->AddScalars(3, {{"loss", 0.5}, {"lr", 1e-4}});
  (*w)->AddScalars(4, {{"loss", 0.25}});
  (*w)->Flush();
  auto events = ReadEvents((*w)->path());
  ASSERT_TRUE(events.ok()) << events.status();
  ASSERT_EQ(events->size(), 3u);
  EXPECT_EQ((*events)[0].file_version(), "brain.Event:2");
  EXPECT_EQ((*events)[1].step(), 3);
  EXPECT_EQ((*events)[1].summary().value(0).tag(), "loss");
  EXPECT_FLOAT_EQ((*events)[2].summary().value(0).simple_value(), 0.25f);
}

}  // namespace
}  // namespace chexworld

namespace chexworld {
namespace {

// The multi-tensor AdamW follows libtorch's AdamW (float rounding), keeps its
// state where checkpoints read it (libtorch's AdamWParamState, step count
// included), and leaves a tensor without a gradient alone. Parity with
// torch.optim.AdamW itself: //tests:adamw_parity_test.
TEST(MultiTensorAdamWTest, MatchesLibtorchAndKeepsItsState) {
  torch::manual_seed(3);
  auto a = torch::randn({257, 33}), b = torch::randn({19}), c = torch::randn({4});
  auto a2 = a.clone(), b2 = b.clone();
  for (auto* t : {&a, &b, &c, &a2, &b2}) t->set_requires_grad(true);
  ParamGroups g1{{{"w", a}}, {{"bias", b}, {"unused", c}}}, g2{{{"w", a2}}, {{"bias", b2}}};
  MultiTensorAdamW multi(g1, 0.9, 0.999, 1e-8);
  auto reference = MakeAdamW(g2, 1e-2, 0.05);
  const auto c0 = c.detach().clone();
  for (int step = 0; step < 5; ++step) {
    auto grad_a = torch::randn_like(a), grad_b = torch::randn_like(b);
    a.mutable_grad() = grad_a.clone();
    b.mutable_grad() = grad_b.clone();
    a2.mutable_grad() = grad_a.clone();
    b2.mutable_grad() = grad_b.clone();
    multi.SetHyperparameters(1e-2, 0.05);
    multi.Step();
    reference->step();
  }
  EXPECT_TRUE(torch::allclose(a, a2, 1e-6, 1e-7)) << (a - a2).abs().max().item<float>();
  EXPECT_TRUE(torch::allclose(b, b2, 1e-6, 1e-7));
  EXPECT_TRUE(torch::equal(c, c0)) << "a tensor without a gradient changed";
  const auto& state = multi.state();
  const auto& s = static_cast<torch::optim::AdamWParamState&>(*state.state().at(a.unsafeGetTensorImpl()));
  EXPECT_EQ(s.step(), 5);
  const auto& r = static_cast<torch::optim::AdamWParamState&>(*reference->state().at(a2.unsafeGetTensorImpl()));
  EXPECT_TRUE(torch::allclose(s.exp_avg_sq(), r.exp_avg_sq(), 1e-6, 1e-12));
  torch::serialize::OutputArchive archive;
  state.save(archive);
  std::ostringstream out;
  archive.save_to(out);
  EXPECT_GT(out.str().size(), 1000u);
}

}  // namespace
}  // namespace chexworld

namespace chexworld {
namespace {

// METHOD 9.2: 224 px, patch 16, predictor 384x6, Ke = 53, Kp = 57.
TEST(Flops, MatchTheMethodTable) {
  StepShape s;
  s.tokens = 196;
  s.pred_dim = 384;
  s.pred_depth = 6;
  s.context = 53;
  s.target = 57;
  s.enc_dim = 768;
  s.enc_depth = 12;
  EXPECT_NEAR(TargetEncoderFlops(s) / 1e9, 34.94, 0.01);
  EXPECT_NEAR(ContextEncoderFlops(s) / 1e9, 9.34, 0.01);
  EXPECT_NEAR(PredictorFlops(s) / 1e9, 2.56, 0.01);
  EXPECT_NEAR(StepFlopsPerImage(s) / 1e9, 156.7, 0.1);
  s.enc_dim = 192;
  EXPECT_NEAR(StepFlopsPerImage(s) / 1e9, 39.0, 0.1);
  s.pred_dim = 192;
  EXPECT_NEAR(StepFlopsPerImage(s) / 1e9, 16.8, 0.1);
}

}  // namespace
}  // namespace chexworld

namespace chexworld {
namespace {

TEST(StepProfiler, WindowSpecs) {
  EXPECT_FALSE(ParseProfileWindow("")->enabled());
  auto w = ParseProfileWindow("20:25");
  ASSERT_TRUE(w.ok());
  EXPECT_EQ(w->begin, 20);
  EXPECT_EQ(w->end, 25);
  for (const char* bad : {"5", "5:5", "6:5", "-1:3", "a:b", "1:2:3"}) {
    auto s = ParseProfileWindow(bad);
    EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(std::string(s.status().message()), ::testing::HasSubstr("run.profile_steps")) << bad;
  }
}

// The detector the host-sync test relies on: a value read on the host inside
// the window is counted.
TEST(StepProfiler, CountsAHostReadInTheWindow) {
  const std::string dir = std::string(std::getenv("TEST_TMPDIR")) + "/profile";
  StepProfiler profiler(*ParseProfileWindow("3:4"), dir, /*cuda=*/false);
  double sum = 0;
  for (int64_t it = 0; it < 6; ++it) {
    profiler.Before(it);
    auto x = torch::ones({8}) * static_cast<double>(it);
    sum += x.sum().item<double>();
    ASSERT_TRUE(profiler.After(it).ok());
  }
  EXPECT_EQ(sum, 8.0 * 15);
  std::ifstream in(dir + "/ops.tsv");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_THAT(text, ::testing::HasSubstr("aten::_local_scalar_dense\t1\t"));
  EXPECT_THAT(text, ::testing::HasSubstr("\naten::sum\t"));
  std::ifstream trace(dir + "/trace.json");
  EXPECT_TRUE(trace.good());
}

}  // namespace
}  // namespace chexworld
