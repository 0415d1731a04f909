// Conformance suite over every registered encoder and predictor, plus
// checkpoint io (errors, adaptation, Python interop).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <ATen/autocast_mode.h>
#include <torch/version.h>

#include <cmath>
#include <cstdlib>
#include <fstream>

#include "chexworld/core/project_python.h"
#include "chexworld/core/config.h"
#include "chexworld/core/registry.h"
#include "chexworld/models/checkpoint/adapt.h"
#include "chexworld/models/checkpoint/state_dict.h"
#include "chexworld/models/ema.h"
#include "chexworld/models/encoder.h"
#include "chexworld/models/encoders/vit.h"
#include "chexworld/models/layers/attention_core.h"
#include "chexworld/models/layers/fused_cpu_kernels.h"
#include "chexworld/models/layers/fused_cpu_ops.h"
#include "chexworld/models/layers/pos_embed.h"
#include "chexworld/models/layers/transformer.h"
#include "chexworld/models/predictor.h"

namespace chexworld {
namespace {

using ::testing::HasSubstr;

// Small options for each registered component; a new component must add one.
const std::map<std::string, std::string>& SmallEncoderOptions() {
  static const auto* m = new std::map<std::string, std::string>{
      {"vit", "[type.googleapis.com/chexworld.ViTOptions] { embed_dim: 48 depth: 2 num_heads: 3 patch_size: 8 }"}};
  return *m;
}
const std::map<std::string, std::string>& SmallPredictorOptions() {
  static const auto* m = new std::map<std::string, std::string>{
      {"conditioned_transformer",
       "[type.googleapis.com/chexworld.ConditionedTransformerOptions] { embed_dim: 24 depth: 2 }"}};
  return *m;
}

ComponentSpec Spec(const std::string& name, const std::string& options_text) {
  ComponentSpec spec;
  auto s = ParseTextProto("name: \"" + name + "\" options { " + options_text + " }", "spec", &spec);
  EXPECT_TRUE(s.ok()) << s;
  return spec;
}

std::shared_ptr<Encoder> SmallEncoder(const std::string& name, int channels, int image_size, uint64_t seed = 0) {
  torch::manual_seed(seed);
  ComponentSpec spec = Spec(name, SmallEncoderOptions().at(name));
  EXPECT_TRUE(ApplyOverride("options.in_channels=" + std::to_string(channels), &spec).ok());
  EXPECT_TRUE(ApplyOverride("options.image_size=" + std::to_string(image_size), &spec).ok());
  auto enc = CreateEncoder(spec);
  EXPECT_TRUE(enc.ok()) << enc.status();
  return enc.ok() ? *enc : nullptr;
}

bool SharesStorage(const torch::nn::Module& a, const torch::nn::Module& b) {
  std::set<const void*> ptrs;
  for (const auto& p : a.parameters()) ptrs.insert(p.data_ptr());
  for (const auto& p : b.parameters()) {
    if (ptrs.count(p.data_ptr())) return true;
  }
  return false;
}

std::string TmpPath(const std::string& name) { return std::string(std::getenv("TEST_TMPDIR")) + "/" + name; }

class EncoderConformance : public ::testing::TestWithParam<std::string> {};

TEST_P(EncoderConformance, HasSmallTestOptions) {
  EXPECT_TRUE(SmallEncoderOptions().count(GetParam()))
      << "add small options for encoder '" << GetParam() << "' to SmallEncoderOptions()";
}

TEST_P(EncoderConformance, DefaultOptionsBuild) {
  ComponentSpec spec;
  spec.set_name(GetParam());
  auto enc = CreateEncoder(spec);
  ASSERT_TRUE(enc.ok()) << enc.status();
  EXPECT_GT((*enc)->embed_dim(), 0);
  EXPECT_GT((*enc)->grid_size(), 0);
}

TEST_P(EncoderConformance, DocumentedShapesForOneAndThreeChannelsAtTwoSizes) {
  for (int channels : {1, 3}) {
    for (int size : {32, 48}) {
      SCOPED_TRACE(absl::StrCat(channels, " channels, ", size, " px"));
      auto enc = SmallEncoder(GetParam(), channels, size);
      ASSERT_TRUE(enc);
      const int64_t n = (size / enc->patch_size()) * (size / enc->patch_size());
      auto x = torch::randn({2, channels, size, size});
      auto y = enc->Forward(x);
      EXPECT_EQ(y.sizes(), (std::vector<int64_t>{2, n, enc->embed_dim()}));
      auto keep = torch::tensor({0, 3, 5, 7}, torch::kInt64).repeat({2, 1});
      EXPECT_EQ(enc->Forward(x, keep).sizes(), (std::vector<int64_t>{2, 4, enc->embed_dim()}));
      auto layers = enc->ForwardLayers(x);
      EXPECT_EQ(static_cast<int64_t>(layers.size()), enc->depth());
      EXPECT_TRUE(torch::allclose(layers.back(), y));
      // Another input size than configured: positions are interpolated.
      auto big = enc->Forward(torch::randn({1, channels, size + 16, size + 16}));
      EXPECT_EQ(big.size(1), ((size + 16) / enc->patch_size()) * ((size + 16) / enc->patch_size()));
    }
  }
}

TEST_P(EncoderConformance, CloneIsIndependentAndFrozen) {
  auto enc = SmallEncoder(GetParam(), 1, 32);
  auto target = MakeTargetEncoder(*enc);
  EXPECT_FALSE(SharesStorage(*enc, *target));
  for (const auto& p : target->parameters()) EXPECT_FALSE(p.requires_grad());
  auto x = torch::randn({2, 1, 32, 32});
  EXPECT_TRUE(torch::equal(enc->Forward(x), target->Forward(x)));
  {
    torch::NoGradGuard g;
    for (auto& p : enc->parameters()) p.add_(0.1);
  }
  EXPECT_FALSE(torch::equal(enc->Forward(x), target->Forward(x)));
  // EMA with momentum 0 copies the online weights.
  auto ema = EmaUpdater::Create(*target, *enc);
  ASSERT_TRUE(ema.ok()) << ema.status();
  (*ema)->Update(0.0);
  EXPECT_TRUE(torch::allclose(enc->Forward(x), target->Forward(x)));
  // The copy keeps the source's mode, dtype and frozen parameters.
  enc->eval();
  enc->to(torch::kFloat64);
  auto copy = enc->CloneEncoder();
  EXPECT_FALSE(copy->is_training());
  auto frozen = enc->named_parameters();
  for (const auto& p : copy->named_parameters()) {
    EXPECT_EQ(p.value().scalar_type(), torch::kFloat64) << p.key();
    EXPECT_EQ(p.value().requires_grad(), frozen[p.key()].requires_grad()) << p.key();
    EXPECT_TRUE(torch::equal(p.value(), frozen[p.key()])) << p.key();
  }
}

// The multi-tensor EMA: the official formula within float32 rounding for
// momenta the schedule takes, every parameter included (the frozen pos_embed
// too), online and target still separate; a moved module is noticed.
TEST_P(EncoderConformance, EmaUpdaterIsTheOfficialUpdate) {
  auto enc = SmallEncoder(GetParam(), 1, 32);
  auto target = MakeTargetEncoder(*enc);
  {
    torch::NoGradGuard g;
    for (auto& p : enc->parameters()) p.add_(torch::randn_like(p) * 0.1);
  }
  auto ema = EmaUpdater::Create(*target, *enc);
  ASSERT_TRUE(ema.ok()) << ema.status();
  EXPECT_FALSE(SharesStorage(*enc, *target));
  for (double m : {0.996, 0.9995, 1.0}) {
    std::map<std::string, torch::Tensor> want;  // m t + (1 - m) o, in double
    auto online = enc->named_parameters();
    for (const auto& p : target->named_parameters()) {
      want[p.key()] = p.value().to(torch::kDouble) * m + online[p.key()].to(torch::kDouble) * (1 - m);
    }
    (*ema)->Update(m);
    for (const auto& p : target->named_parameters()) {
      const double err = (p.value().to(torch::kDouble) - want[p.key()]).abs().max().item<double>();
      const double scale = want[p.key()].abs().max().item<double>() + 1e-30;
      EXPECT_LE(err, 2.5e-7 * scale) << p.key() << " m=" << m;  // 2 float32 roundings
    }
  }
  ASSERT_TRUE((*ema)->CheckIntact().ok());
  enc->to(torch::kFloat64);  // new parameter tensors: the EMA no longer reaches them
  const absl::Status broken = (*ema)->CheckIntact();
  EXPECT_FALSE(broken.ok());
  EXPECT_THAT(std::string(broken.message()), ::testing::HasSubstr("no longer views the EMA buffer"));
}

TEST_P(EncoderConformance, SaveLoadRoundTrip) {
  auto a = SmallEncoder(GetParam(), 3, 32, /*seed=*/1);
  auto b = SmallEncoder(GetParam(), 3, 32, /*seed=*/2);
  const std::string path = TmpPath(GetParam() + "_roundtrip.pt");
  ASSERT_TRUE(SaveStateDict(GetStateDict(*a), path).ok());
  auto sd = ReadTorchStateDict(path);
  ASSERT_TRUE(sd.ok()) << sd.status();
  auto report = LoadStateDict(*b, *sd, LoadMode::kStrict);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_TRUE(report->missing.empty());
  auto x = torch::randn({2, 3, 32, 32});
  EXPECT_TRUE(torch::equal(a->Forward(x), b->Forward(x)));
}

TEST_P(EncoderConformance, DeterministicUnderAFixedSeed) {
  auto a = SmallEncoder(GetParam(), 1, 32, 7);
  auto b = SmallEncoder(GetParam(), 1, 32, 7);
  auto x = torch::randn({2, 1, 32, 32});
  EXPECT_TRUE(torch::equal(a->Forward(x), b->Forward(x)));
}

INSTANTIATE_TEST_SUITE_P(AllEncoders, EncoderConformance,
                         ::testing::ValuesIn(ComponentCatalog::Global().Names(kEncoderKind)));

class PredictorConformance : public ::testing::TestWithParam<std::string> {
 protected:
  std::shared_ptr<Predictor> Make(const std::string& extra = "", uint64_t seed = 0) {
    torch::manual_seed(seed);
    ComponentSpec spec = Spec(GetParam(), SmallPredictorOptions().at(GetParam()));
    if (!extra.empty()) {
      EXPECT_TRUE(ApplyOverride(extra, &spec).ok());
    }
    auto p = CreatePredictor(spec, PredictorContext{48, 3, 4, 4});
    EXPECT_TRUE(p.ok()) << p.status();
    return p.ok() ? *p : nullptr;
  }
  PredictorInputs Inputs() {
    torch::manual_seed(11);
    PredictorInputs in;
    in.context = torch::randn({2, 5, 48});
    in.context_idx = torch::tensor({0, 1, 2, 4, 8}, torch::kInt64).repeat({2, 1});
    in.target_idx = torch::tensor({10, 11, 14}, torch::kInt64).repeat({2, 1});
    in.action = torch::tensor({1.2, 0.9, 1.5, 0.0, 0.0}).repeat({2, 1});
    in.rel_pos = torch::tensor({0.25, -0.5, 0.0, 1.0}).repeat({2, 1});
    return in;
  }
};

TEST_P(PredictorConformance, DefaultOptionsBuild) {
  ComponentSpec spec;
  spec.set_name(GetParam());
  auto p = CreatePredictor(spec, PredictorContext{96, 3, 4, 4});
  ASSERT_TRUE(p.ok()) << p.status();
}

TEST_P(PredictorConformance, ShapesAndConditioning) {
  auto p = Make();
  auto in = Inputs();
  auto y = p->Forward(in);
  EXPECT_EQ(y.sizes(), (std::vector<int64_t>{2, 3, 48}));
  // Full context (all 16 tokens, no indices).
  PredictorInputs full = in;
  full.context = torch::randn({2, 16, 48});
  full.context_idx = torch::Tensor();
  EXPECT_EQ(p->Forward(full).sizes(), (std::vector<int64_t>{2, 3, 48}));
  if (p->action_dim() > 0) {
    PredictorInputs other = in;
    other.action = torch::tensor({1.0, 1.0, 1.0, 0.0, 0.0}).repeat({2, 1});
    EXPECT_FALSE(torch::allclose(p->Forward(other), y)) << "the action must change the prediction";
  }
  if (p->uses_relative_offset()) {
    PredictorInputs same_crop = in;
    same_crop.rel_pos = torch::Tensor();
    EXPECT_FALSE(torch::allclose(p->Forward(same_crop), y)) << "the offset must change the prediction";
  }
}

TEST_P(PredictorConformance, CloneRoundTripAndDeterminism) {
  auto a = Make("", 1);
  auto copy = a->ClonePredictor();
  EXPECT_FALSE(SharesStorage(*a, *copy));
  auto in = Inputs();
  EXPECT_TRUE(torch::equal(a->Forward(in), copy->Forward(in)));
  auto b = Make("", 2);
  const std::string path = TmpPath(GetParam() + "_pred.pt");
  ASSERT_TRUE(SaveStateDict(GetStateDict(*a), path).ok());
  auto sd = ReadTorchStateDict(path);
  ASSERT_TRUE(sd.ok()) << sd.status();
  ASSERT_TRUE(LoadStateDict(*b, *sd, LoadMode::kStrict).ok());
  EXPECT_TRUE(torch::equal(a->Forward(in), b->Forward(in)));
  EXPECT_TRUE(torch::equal(Make("", 5)->Forward(in), Make("", 5)->Forward(in)));
}

INSTANTIATE_TEST_SUITE_P(AllPredictors, PredictorConformance,
                         ::testing::ValuesIn(ComponentCatalog::Global().Names(kPredictorKind)));

TEST(ConditionedTransformerAblations, NoActionAndNoOffset) {
  ComponentSpec spec = Spec("conditioned_transformer", SmallPredictorOptions().at("conditioned_transformer"));
  ASSERT_TRUE(ApplyOverride("options.disable_action=true", &spec).ok());
  ASSERT_TRUE(ApplyOverride("options.disable_relative_offset=true", &spec).ok());
  auto p = CreatePredictor(spec, PredictorContext{48, 3, 4, 4});
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ((*p)->action_dim(), 0);
  for (const auto& kv : (*p)->named_parameters()) EXPECT_THAT(kv.key(), ::testing::Not(HasSubstr("policy_net")));
  PredictorInputs in;
  in.context = torch::randn({1, 2, 48});
  in.context_idx = torch::tensor({{0, 1}}, torch::kInt64);
  in.target_idx = torch::tensor({{5, 6}}, torch::kInt64);
  in.rel_pos = torch::tensor({{0.5, 0.5, 1.0, 1.0}});
  auto y = (*p)->Forward(in);
  in.rel_pos = torch::Tensor();
  EXPECT_TRUE(torch::equal(y, (*p)->Forward(in)));
}

// The fused CPU attention must agree with the composite reference in value and
// in the gradient of its input, at any thread count, for odd token counts and
// a non-contiguous input.
TEST(AttentionCoreTest, FusedMatchesReferenceForwardAndBackward) {
  const int threads = torch::get_num_threads();
  for (int t : {1, 2}) {
    torch::set_num_threads(t);
    for (auto [b, n, heads, d] : std::vector<std::array<int64_t, 4>>{{3, 37, 3, 16}, {2, 5, 1, 8}, {1, 50, 4, 24}}) {
      torch::manual_seed(7 + n);
      const int64_t c = heads * d;
      auto base = torch::randn({b, n, 3 * c + 5}) * 2.0;
      auto x1 = base.narrow(2, 5, 3 * c).clone().requires_grad_(true);
      auto x2 = base.narrow(2, 5, 3 * c).requires_grad_(false);  // strided view
      auto leaf2 = x2.detach().clone().requires_grad_(true);
      const double scale = 1.0 / std::sqrt(static_cast<double>(d));
      ASSERT_TRUE(FusedAttentionApplies(x2));
      auto ref = AttentionCoreReference(x1, heads, scale);
      auto fused = AttentionCoreFusedCpu(leaf2.as_strided(x2.sizes(), leaf2.strides()), heads, scale);
      EXPECT_EQ(fused.sizes(), ref.sizes());
      EXPECT_TRUE(torch::allclose(fused, ref, 1e-5, 1e-5)) << (fused - ref).abs().max().item<double>();
      auto g = torch::randn_like(ref);
      ref.backward(g);
      fused.backward(g);
      EXPECT_TRUE(torch::allclose(leaf2.grad(), x1.grad(), 1e-4, 1e-5))
          << "threads " << t << " n " << n << ": " << (leaf2.grad() - x1.grad()).abs().max().item<double>();
    }
  }
  torch::set_num_threads(threads);
  EXPECT_FALSE(FusedAttentionApplies(torch::zeros({2, 4, 6}, torch::kDouble)));
  EXPECT_FALSE(FusedAttentionApplies(torch::zeros({4, 6})));
}

// SDPA (the CUDA path, and the CPU path with the fused kernels off) against
// the reference, forward and input gradient, with the official scale and
// another one (SDPA takes the scale as an argument).
TEST(AttentionCoreTest, SdpaMatchesReferenceForwardAndBackward) {
  for (double scale_factor : {1.0, 0.5}) {
    torch::manual_seed(11);
    const int64_t b = 2, n = 29, heads = 3, d = 16, c = heads * d;
    auto x1 = (torch::randn({b, n, 3 * c}) * 2.0).requires_grad_(true);
    auto x2 = x1.detach().clone().requires_grad_(true);
    const double scale = scale_factor / std::sqrt(static_cast<double>(d));
    auto ref = AttentionCoreReference(x1, heads, scale);
    auto sdpa = AttentionCoreSdpa(x2, heads, scale);
    EXPECT_TRUE(torch::allclose(sdpa, ref, 1e-5, 1e-5)) << (sdpa - ref).abs().max().item<double>();
    auto g = torch::randn_like(ref);
    ref.backward(g);
    sdpa.backward(g);
    EXPECT_TRUE(torch::allclose(x2.grad(), x1.grad(), 1e-4, 1e-5)) << (x2.grad() - x1.grad()).abs().max().item<double>();
  }
}

// The vectorised GELU against erf in double over the whole float range that
// matters: relative error within 2e-6 where GELU is representable (the left
// tail included, where exp(-x^2 / 2) adds x^2 / 2 roundings of 6e-8), its
// derivative within 1e-6.
// Each test runs for every variant this CPU has (AVX2, AVX-512).
std::vector<std::string> Isas() {
  const std::string initial = kernels::KernelsIsa();
  std::vector<std::string> out;
  for (const char* isa : {"avx2", "avx512"}) {
    if (kernels::SetKernelsIsa(isa)) out.push_back(isa);
  }
  kernels::SetKernelsIsa(initial);
  return out;
}

TEST(FusedCpuKernelsTest, GeluMatchesTheExactErfFormula) {
  if (!kernels::KernelsSupported()) GTEST_SKIP() << "this CPU has no AVX2 + FMA: the layers use libtorch's operators";
  const std::string initial = kernels::KernelsIsa();
  for (const std::string& isa : Isas()) {
    SCOPED_TRACE(isa);
    ASSERT_TRUE(kernels::SetKernelsIsa(isa));
    double worst_rel = 0, worst_grad = 0;
    for (int i = -200000; i <= 200000; ++i) {
      const double x = i * 1e-4;  // [-20, 20]
      const float xf = static_cast<float>(x);
      const double xd = xf;
      const double cdf = 0.5 * std::erfc(-xd / std::sqrt(2.0));
      const double exact = xd * cdf;
      const double grad = cdf + xd * std::exp(-xd * xd / 2) / std::sqrt(2 * M_PI);
      const double got = kernels::Gelu(xf);
      if (xd > -12.5) {
        // exp(-x^2 / 2) inherits x^2 / 2 times the rounding of x^2 / 2.
        const double allowed = 2e-6 + 1.2e-7 * xd * xd / 2;
        worst_rel = std::max(worst_rel, std::abs(got - exact) / std::max(std::abs(exact), 1e-30) / allowed);
      } else {
        EXPECT_LE(std::abs(got), 1e-30) << x;
      }
      worst_grad = std::max(worst_grad, std::abs(kernels::GeluGrad(xf) - grad));
    }
    EXPECT_LE(worst_rel, 1.0);  // relative to the allowance
    EXPECT_LE(worst_grad, 1e-6);
    EXPECT_EQ(kernels::Gelu(0.0f), 0.0f);
    EXPECT_TRUE(std::isnan(kernels::Gelu(std::nanf(""))));
    EXPECT_EQ(kernels::Gelu(1e30f), 1e30f);
  }
  kernels::SetKernelsIsa(initial);
}

// FusedLayerNorm and FusedLinearGelu against libtorch's operators, values and
// every gradient, at widths with and without a vector tail, row counts that
// leave a partial chunk, strided inputs and 1 or 2 threads; the same bits
// with or without a graph, and for LayerNorm at every thread count.
TEST(FusedCpuKernelsTest, MatchLibtorchForwardAndBackwardAtAnyThreadCount) {
  if (!kernels::KernelsSupported()) GTEST_SKIP() << "this CPU has no AVX2 + FMA: the layers use libtorch's operators";
  const int threads = torch::get_num_threads();
  const std::string initial = kernels::KernelsIsa();
  for (const std::string& isa : Isas()) {
    SCOPED_TRACE(isa);
    ASSERT_TRUE(kernels::SetKernelsIsa(isa));
    for (int64_t d : {37, 64, 192}) {
      torch::manual_seed(d);
      auto base = torch::randn({3, 45, d + 3}) * 3.0 + 0.5;
      auto x = base.narrow(2, 3, d);  // strided
      auto w = (torch::randn({d}) * 0.5 + 1.0), b = torch::randn({d});
      auto fc_w = torch::randn({2 * d + 5, d}) * 0.1, fc_b = torch::randn({2 * d + 5});
      auto gy = torch::randn({3, 45, d}), gh = torch::randn({3, 45, 2 * d + 5});
      std::vector<torch::Tensor> first;
      for (int t : {1, 2}) {
        torch::set_num_threads(t);
        auto leaf = [](const torch::Tensor& v) { return v.detach().clone().requires_grad_(true); };
        auto xr = leaf(x), wr = leaf(w), br = leaf(b), xbase = leaf(base), wf = leaf(w), bf = leaf(b);
        auto ref = torch::layer_norm(xr, {d}, wr, br, 1e-6);
        auto got = FusedLayerNorm(xbase.narrow(2, 3, d), wf, bf, 1e-6);  // a strided input
        EXPECT_TRUE(torch::allclose(got, ref, 1e-5, 1e-5)) << d << ": " << (got - ref).abs().max().item<double>();
        ref.backward(gy);
        got.backward(gy);
        auto xf_grad = xbase.grad().narrow(2, 3, d);
        EXPECT_TRUE(torch::allclose(xf_grad, xr.grad(), 1e-4, 1e-5)) << (xf_grad - xr.grad()).abs().max();
        EXPECT_TRUE(torch::allclose(wf.grad(), wr.grad(), 1e-4, 1e-4)) << (wf.grad() - wr.grad()).abs().max();
        EXPECT_TRUE(torch::allclose(bf.grad(), br.grad(), 1e-4, 1e-4)) << (bf.grad() - br.grad()).abs().max();
        auto plain = FusedLayerNorm(x, {}, {}, 1e-5);
        EXPECT_TRUE(torch::allclose(plain, torch::layer_norm(x, {d}, {}, {}, 1e-5), 1e-5, 1e-5));

        auto hx = leaf(x), hw = leaf(fc_w), hb = leaf(fc_b), fx = leaf(x), fw = leaf(fc_w), fb = leaf(fc_b);
        auto href = torch::gelu(torch::nn::functional::linear(hx, hw, hb));
        auto hgot = FusedLinearGelu(fx, fw, fb);
        EXPECT_TRUE(torch::allclose(hgot, href, 1e-5, 1e-5)) << (hgot - href).abs().max().item<double>();
        href.backward(gh);
        hgot.backward(gh);
        EXPECT_TRUE(torch::allclose(fx.grad(), hx.grad(), 1e-4, 1e-4)) << (fx.grad() - hx.grad()).abs().max();
        EXPECT_TRUE(torch::allclose(fw.grad(), hw.grad(), 1e-4, 1e-4)) << (fw.grad() - hw.grad()).abs().max();
        EXPECT_TRUE(torch::allclose(fb.grad(), hb.grad(), 1e-4, 1e-4)) << (fb.grad() - hb.grad()).abs().max();
        {
          torch::NoGradGuard no_grad;
          EXPECT_TRUE(torch::equal(FusedLinearGelu(x, fc_w, fc_b), hgot.detach()));
          EXPECT_TRUE(torch::equal(FusedLayerNorm(x, w, b, 1e-6), got.detach()));
        }
        // Bits across thread counts: the LayerNorm outputs, all from our
        // kernels and the chunked sums both ops share. FusedLinearGelu's
        // outputs go through BLAS GEMMs, and OpenBLAS may split a product
        // differently at another thread count (it does on AMD Zen 4), so
        // those are checked for closeness above only.
        std::vector<torch::Tensor> now = {got.detach(), xf_grad, wf.grad(), bf.grad()};
        if (first.empty()) {
          first = now;
        } else {
          for (size_t i = 0; i < now.size(); ++i) EXPECT_TRUE(torch::equal(now[i], first[i])) << "output " << i;
        }
      }
    }
  }
  kernels::SetKernelsIsa(initial);
  torch::set_num_threads(threads);
}

TEST(FusedCpuKernelsTest, ApplyOnlyToFloatCpuOutsideAutocastAndCanBeTurnedOff) {
  EXPECT_EQ(FusedCpuApplies(torch::zeros({2, 8})), kernels::KernelsSupported());
  EXPECT_FALSE(FusedCpuApplies(torch::zeros({2, 8}, torch::kDouble)));
  EXPECT_FALSE(FusedCpuApplies(torch::zeros({2, 8}, torch::kBFloat16)));
  EXPECT_FALSE(FusedCpuApplies(torch::zeros({0, 8})));
  at::autocast::set_autocast_enabled(at::kCPU, true);
  EXPECT_FALSE(FusedCpuApplies(torch::zeros({2, 8})));
  at::autocast::set_autocast_enabled(at::kCPU, false);
  SetFusedCpuKernels(false);
  EXPECT_FALSE(FusedCpuApplies(torch::zeros({2, 8})));
  SetFusedCpuKernels(true);
  // The module path is the same with the fused kernels on and off.
  Block block(48, 3, 4.0, 0.0);
  auto x = torch::randn({2, 9, 48});
  auto fused = block->forward(x);
  SetFusedCpuKernels(false);
  auto plain = block->forward(x);
  SetFusedCpuKernels(true);
  EXPECT_TRUE(torch::allclose(fused, plain, 1e-5, 1e-5)) << (fused - plain).abs().max().item<double>();
}

TEST(ViTOptionsTest, BadValuesNameTheField) {
  ViTOptions o;
  o.set_embed_dim(100);
  o.set_num_heads(3);
  auto r = ResolveViTOptions(o);
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("ViTOptions.embed_dim = 100"));
  o = ViTOptions();
  o.set_preset("huge");
  EXPECT_THAT(std::string(ResolveViTOptions(o).status().message()), HasSubstr("preset 'huge'"));
  o = ViTOptions();
  o.set_image_size(100);
  EXPECT_THAT(std::string(ResolveViTOptions(o).status().message()), HasSubstr("image_size = 100"));
}

TEST(CheckpointTest, WrongShapeAndMissingKeysAreNamed) {
  auto enc = SmallEncoder("vit", 1, 32);
  NamedTensors sd = GetStateDict(*enc);
  NamedTensors bad = sd;
  for (auto& [name, t] : bad) {
    if (name == "blocks.0.attn.qkv.weight") t = torch::zeros({10, 48});
  }
  auto r = LoadStateDict(*enc, bad, LoadMode::kStrict);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(std::string(r.status().message()),
              HasSubstr("'blocks.0.attn.qkv.weight': checkpoint shape [10, 48] vs model shape [144, 48]"));
  NamedTensors missing(sd.begin() + 1, sd.end());
  missing.emplace_back("head.weight", torch::zeros({2}));
  r = LoadStateDict(*enc, missing, LoadMode::kStrict);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("missing keys [" + sd.front().first + "]"));
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("unexpected keys [head.weight]"));
  r = LoadStateDict(*enc, missing, LoadMode::kNonStrict);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->missing.size(), 1u);
  EXPECT_EQ(r->unexpected.size(), 1u);
}

// The predictor computes mask-token embeddings only at the target positions:
// bit-identical to gathering the full table.
TEST(PosEmbedTest, RelativeEmbeddingAtTargetsEqualsTheGatheredTable) {
  torch::manual_seed(5);
  auto rel = torch::rand({6, 4}) * 2 - 1;
  rel.select(1, 2).copy_(torch::tensor({0.f, 1.f, 0.f, 1.f, 1.f, 0.f}));  // relative flips
  auto idx = torch::randint(0, 8 * 8, {6, 11}, torch::kInt64);
  auto table = RelativeSinCos2D(rel, 48, 8, 8);
  auto gathered = torch::gather(table, 1, idx.unsqueeze(-1).expand({-1, -1, 48}));
  EXPECT_TRUE(torch::equal(RelativeSinCos2DAt(rel, idx, 48, 8, 8), gathered));
}

TEST(CheckpointTest, CorruptFilesFailClearly) {
  const std::string path = TmpPath("corrupt.pt");
  std::ofstream(path) << "not a zip archive";
  auto sd = ReadTorchStateDict(path);
  ASSERT_FALSE(sd.ok());
  EXPECT_THAT(std::string(sd.status().message()), HasSubstr(path));
  EXPECT_FALSE(ReadTorchStateDict(TmpPath("absent.pt")).ok());
}

TEST(CheckpointTest, AdaptsRgbPatch16WeightsToGrayPatch8AndAnotherGrid) {
  // An RGB encoder on gray input replicated to 3 channels equals the 1-channel
  // encoder with summed kernels.
  auto rgb = SmallEncoder("vit", 3, 32, 3);
  auto gray = SmallEncoder("vit", 1, 32, 4);
  auto adapted = AdaptEncoderWeights(GetStateDict(*rgb), *gray);
  ASSERT_TRUE(adapted.ok()) << adapted.status();
  ASSERT_TRUE(LoadStateDict(*gray, *adapted, LoadMode::kStrict).ok());
  auto x = torch::rand({2, 1, 32, 32});
  EXPECT_TRUE(torch::allclose(rgb->Forward(x.repeat({1, 3, 1, 1})), gray->Forward(x), 1e-4, 1e-5));
  // Patch 8 -> 4 and grid 4 -> 8 at the same image size.
  ComponentSpec spec = Spec("vit", SmallEncoderOptions().at("vit"));
  ASSERT_TRUE(ApplyOverride("options.patch_size=4", &spec).ok());
  ASSERT_TRUE(ApplyOverride("options.image_size=32", &spec).ok());
  auto small_patch = CreateEncoder(spec);
  ASSERT_TRUE(small_patch.ok());
  auto adapted2 = AdaptEncoderWeights(GetStateDict(*rgb), **small_patch);
  ASSERT_TRUE(adapted2.ok()) << adapted2.status();
  ASSERT_TRUE(LoadStateDict(**small_patch, *adapted2, LoadMode::kStrict).ok());
  EXPECT_EQ((*small_patch)->Forward(torch::rand({1, 3, 32, 32})).size(1), 64);
}

// The project's Python (.venv), with the torch the build links.
std::string Python() { return CHEXWORLD_PROJECT_PYTHON; }

// Python's torch.load reads an exported encoder as a plain state dict with the
// same tensors; what Python saves back (as an OrderedDict) loads in C++.
TEST(CheckpointTest, ExportReadsInPythonAndBack) {
  if (std::system((Python() + " -c 'import torch' > /dev/null 2>&1").c_str()) != 0) {
    FAIL() << "the project's Python (" << Python() << ") has no torch: run tools/install_deps.sh";
  }
  auto enc = SmallEncoder("vit", 1, 32, 9);
  const std::string out = TmpPath("export.pt"), back = TmpPath("from_python.pt"), script = TmpPath("check.py");
  ASSERT_TRUE(SaveStateDict(GetStateDict(*enc), out).ok());
  std::ofstream(script) << "import sys, collections, torch\n"
                           "d = torch.load(sys.argv[1])\n"
                           "assert type(d) is dict, type(d)\n"
                           "assert 'patch_embed.proj.weight' in d and 'blocks.1.mlp.fc2.bias' in d\n"
                           "assert d['pos_embed'].shape == (1, 16, 48), d['pos_embed'].shape\n"
                           "torch.save(collections.OrderedDict((k, v * 1) for k, v in d.items()), sys.argv[2])\n";
  ASSERT_EQ(std::system((Python() + " " + script + " " + out + " " + back).c_str()), 0);
  auto sd = ReadTorchStateDict(back);
  ASSERT_TRUE(sd.ok()) << sd.status();
  NamedTensors mine = GetStateDict(*enc);
  ASSERT_EQ(sd->size(), mine.size());
  for (size_t i = 0; i < mine.size(); ++i) {
    EXPECT_EQ((*sd)[i].first, mine[i].first);
    EXPECT_TRUE(torch::equal((*sd)[i].second, mine[i].second)) << mine[i].first;
  }
}

// Files from strangers: made by Python's torch (each the way an attacker or a
// broken writer would), every one must fail with a clear error, never run
// code or allocate what the file claims.
TEST(CheckpointTest, StrangersFilesAreRefusedOrReadSafely) {
  if (std::system((Python() + " -c 'import torch' > /dev/null 2>&1").c_str()) != 0) {
    FAIL() << "the project's Python (" << Python() << ") has no torch: run tools/install_deps.sh";
  }
  const std::string dir = TmpPath("strangers");
  const std::string script = TmpPath("strangers.py");
  std::ofstream(script) << R"(import argparse, collections, os, sys, zipfile, torch
d = sys.argv[1]
os.makedirs(d, exist_ok=True)
class Evil:
    def __reduce__(self):
        return (os.system, ("touch " + d + "/pwned",))
torch.save({"w": torch.ones(2), "x": Evil()}, d + "/evil.pt")
# The official layout: {'model': OrderedDict, 'epoch', 'args': Namespace}.
torch.save({"model": collections.OrderedDict(w=torch.arange(6.).reshape(2, 3)), "epoch": 7,
            "args": argparse.Namespace(lr=1e-3, model="vit_base", sizes=[1, 2])}, d + "/official.pth")
# A stride-0 view of 4 floats that claims 10^12 elements.
torch.save({"w": torch.zeros(4).as_strided((1000000, 1000000), (0, 0))}, d + "/huge.pt")
torch.save({"w": torch.arange(4096.)}, d + "/good.pt")
data = open(d + "/good.pt", "rb").read()
open(d + "/truncated.pt", "wb").write(data[: len(data) // 2])
flipped = bytearray(data)
z = zipfile.ZipFile(d + "/good.pt")
info = [i for i in z.infolist() if i.filename.endswith("/data/0")][0]
flipped[info.header_offset + 30 + len(info.filename) + len(info.extra) + 100] ^= 0xFF
open(d + "/flipped.pt", "wb").write(bytes(flipped))
with zipfile.ZipFile(d + "/compressed.pt", "w", zipfile.ZIP_DEFLATED) as out:
    for i in z.infolist():
        out.writestr(i.filename, z.read(i.filename))
)";
  ASSERT_EQ(std::system((Python() + " " + script + " " + dir).c_str()), 0);
  auto expect_error = [&](const std::string& file, absl::StatusCode code, const std::string& words) {
    auto sd = ReadTorchStateDict(dir + "/" + file);
    ASSERT_FALSE(sd.ok()) << file << " was accepted";
    EXPECT_EQ(sd.status().code(), code) << file << ": " << sd.status();
    EXPECT_THAT(std::string(sd.status().message()), HasSubstr(words)) << file;
    EXPECT_THAT(std::string(sd.status().message()), HasSubstr(dir + "/" + file));
  };
  expect_error("evil.pt", absl::StatusCode::kPermissionDenied, "global 'posix.system' is not allowed");
  EXPECT_FALSE(std::ifstream(dir + "/pwned").good()) << "reading the file ran its code";
  expect_error("huge.pt", absl::StatusCode::kDataLoss, "a tensor of 1e+12 elements from a file of");
  expect_error("truncated.pt", absl::StatusCode::kDataLoss, "not a readable torch zip archive");
  expect_error("flipped.pt", absl::StatusCode::kDataLoss, "fails its CRC-32");
  expect_error("compressed.pt", absl::StatusCode::kUnimplemented, "is compressed");

  std::map<std::string, double> scalars;
  auto official = ReadTorchStateDict(dir + "/official.pth", &scalars);
  ASSERT_TRUE(official.ok()) << official.status();
  ASSERT_EQ(official->size(), 1u);
  EXPECT_EQ((*official)[0].first, "w");
  EXPECT_TRUE(torch::equal((*official)[0].second, torch::arange(6.0f).reshape({2, 3})));
  EXPECT_EQ(scalars.at("epoch"), 7);
  auto doc = ReadTorchPickle(dir + "/official.pth");
  ASSERT_TRUE(doc.ok());
  const PickleValue* args = (*doc)->Get("args");
  ASSERT_NE(args, nullptr);
  EXPECT_EQ(args->kind, PickleValue::Kind::kObject);
  EXPECT_EQ(args->s, "argparse.Namespace");
  ASSERT_NE(args->Get("model"), nullptr);
  EXPECT_EQ(args->Get("model")->s, "vit_base");
}

}  // namespace
}  // namespace chexworld
