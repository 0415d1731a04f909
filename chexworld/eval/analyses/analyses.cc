#include "chexworld/eval/analyses/analyses.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "chexworld/data/transforms/dual_view.h"
#include "chexworld/eval/figure.h"
#include "chexworld/models/ema.h"

namespace chexworld {
namespace {

torch::Tensor Identity(int64_t b, const torch::Device& d) {
  return torch::tensor(std::vector<float>(kIdentityAction.begin(), kIdentityAction.end()), torch::TensorOptions().device(d))
      .unsqueeze(0)
      .expand({b, kActionDim})
      .contiguous();
}

torch::Tensor AllIndices(int64_t b, int64_t n, const torch::Device& d) {
  return torch::arange(n, torch::TensorOptions().dtype(torch::kInt64).device(d)).unsqueeze(0).expand({b, n}).contiguous();
}

std::map<std::string, double> Compare(const torch::Tensor& pred, const torch::Tensor& target) {
  // MSE, mean cosine, and position retrieval: does the prediction at position
  // k retrieve target k among all positions of the same image?
  auto p = torch::nn::functional::normalize(pred, torch::nn::functional::NormalizeFuncOptions().dim(-1));
  auto t = torch::nn::functional::normalize(target, torch::nn::functional::NormalizeFuncOptions().dim(-1));
  auto sims = torch::matmul(p, t.transpose(1, 2));  // (B, N, N)
  auto truth = torch::arange(pred.size(1), torch::TensorOptions().dtype(torch::kInt64).device(pred.device()));
  auto top1 = (sims.argmax(-1) == truth).to(torch::kFloat32).mean().item<double>();
  auto top5 = (std::get<1>(sims.topk(std::min<int64_t>(5, pred.size(1)), -1)) == truth.unsqueeze(-1))
                  .any(-1)
                  .to(torch::kFloat32)
                  .mean()
                  .item<double>();
  return {{"mse", torch::mse_loss(pred, target).item<double>()},
          {"cosine", (p * t).sum(-1).mean().item<double>()},
          {"position_top1", top1},
          {"position_top5", top5}};
}

}  // namespace

AnalysisResult MaskedPatchRetrieval(const WorldModel& m, const WorldModelBatch& b) {
  torch::NoGradGuard g;
  AnalysisResult r;
  r.name = "local structure: masked-patch retrieval";
  const auto dev = b.image1.device();
  const int64_t B = b.size();
  auto h = TargetLayerNorm(m.target->Forward(b.image1));  // (B, N, D) bank: every position of every image
  auto z = m.encoder->Forward(b.image1, b.masks_enc1);
  auto pred = m.predictor->Forward({z, b.masks_enc1, b.masks_pred1, Identity(B, dev), {}});
  const int64_t n = h.size(1), kp = pred.size(1);
  auto bank = torch::nn::functional::normalize(h.reshape({B * n, -1}), torch::nn::functional::NormalizeFuncOptions().dim(-1));
  auto q = torch::nn::functional::normalize(pred.reshape({B * kp, -1}), torch::nn::functional::NormalizeFuncOptions().dim(-1));
  auto truth = (torch::arange(B, torch::TensorOptions().dtype(torch::kInt64).device(dev)).unsqueeze(1) * n + b.masks_pred1).reshape({-1});
  auto sims = torch::matmul(q, bank.t());
  const double top1 = (sims.argmax(-1) == truth).to(torch::kFloat32).mean().item<double>();
  const double top5 = (std::get<1>(sims.topk(5, -1)) == truth.unsqueeze(-1)).any(-1).to(torch::kFloat32).mean().item<double>();
  auto target = torch::gather(h, 1, b.masks_pred1.unsqueeze(-1).expand({-1, -1, h.size(-1)}));
  r.conditions.push_back({"predicted tokens",
                          {{"retrieval_top1", top1},
                           {"retrieval_top5", top5},
                           {"mse", torch::mse_loss(pred, target).item<double>()},
                           {"chance_top1", 1.0 / (B * n)}}});
  // Reference: the mean target token (what a collapsed predictor would output).
  auto mean_token = target.mean(std::vector<int64_t>{0, 1}, /*keepdim=*/true).expand_as(target);
  const double baseline = torch::mse_loss(mean_token, target).item<double>();
  r.conditions.push_back({"mean token (baseline)", {{"mse", baseline}}});
  return r;
}

AnalysisResult CrossCropPrediction(const WorldModel& m, const WorldModelBatch& b) {
  torch::NoGradGuard g;
  AnalysisResult r;
  r.name = "global layout: cross-crop prediction";
  const auto dev = b.image1.device();
  const int64_t B = b.size();
  auto h2 = TargetLayerNorm(m.target->Forward(b.image2));
  const int64_t n = h2.size(1);
  auto all = AllIndices(B, n, dev);
  auto z1 = m.encoder->Forward(b.image1);  // the full first crop as context
  auto id = Identity(B, dev);
  auto wrong = b.rel_pos_21.roll(1, 0);    // another sample's offset
  r.conditions.push_back({"true offset", Compare(m.predictor->Forward({z1, {}, all, id, b.rel_pos_21}), h2)});
  r.conditions.push_back({"zero offset", Compare(m.predictor->Forward({z1, {}, all, id, torch::zeros_like(b.rel_pos_21)}), h2)});
  r.conditions.push_back({"wrong offset", Compare(m.predictor->Forward({z1, {}, all, id, wrong}), h2)});
  return r;
}

AnalysisResult ActionConditioning(const WorldModel& m, const WorldModelBatch& b) {
  torch::NoGradGuard g;
  AnalysisResult r;
  r.name = "domain variation: action-conditioned prediction";
  const auto dev = b.image1.device();
  const int64_t B = b.size();
  auto h = TargetLayerNorm(m.target->Forward(b.image1));  // clean view V
  const int64_t n = h.size(1);
  auto all = AllIndices(B, n, dev);
  auto z = m.encoder->Forward(b.image_aug1);  // augmented view A = T_a(V), full context
  r.conditions.push_back({"true action", Compare(m.predictor->Forward({z, all, all, b.action1, {}}), h)});
  r.conditions.push_back({"identity action", Compare(m.predictor->Forward({z, all, all, Identity(B, dev), {}}), h)});
  r.conditions.push_back({"shuffled action", Compare(m.predictor->Forward({z, all, all, b.action1.roll(1, 0), {}}), h)});
  return r;
}

std::string ToMarkdown(const std::vector<AnalysisResult>& results) {
  std::string md;
  for (const auto& r : results) {
    absl::StrAppend(&md, "#### ", r.name, "\n\n| condition | metrics |\n|---|---|\n");
    for (const auto& [cond, metrics] : r.conditions) {
      std::string cells;
      for (const auto& [k, v] : metrics) absl::StrAppend(&cells, cells.empty() ? "" : ", ", k, " ", absl::StrFormat("%.4f", v));
      absl::StrAppend(&md, "| ", cond, " | ", cells, " |\n");
    }
    absl::StrAppend(&md, "\n");
  }
  return md;
}

std::string AnalysisFigure(const AnalysisResult& r, const std::string& metric, const std::string& title,
                           const std::string& ylabel) {
  Figure f;
  f.title = title;
  f.panel_width = 90 * std::max<int>(3, static_cast<int>(r.conditions.size()));
  f.panel_height = 200;
  f.caption = absl::StrCat("Mean over the held-out batches of analyses.md (", metric, ").");
  Axes& a = f.AddPanel("", "condition", ylabel);
  a.legend = "none";
  Series bars{""};
  bars.bars = true;
  for (size_t i = 0; i < r.conditions.size(); ++i) {
    a.categories.push_back(r.conditions[i].first);
    auto it = r.conditions[i].second.find(metric);
    bars.x.push_back(static_cast<double>(i));
    bars.y.push_back(it == r.conditions[i].second.end() ? std::nan("") : it->second);
  }
  a.series.push_back(std::move(bars));
  return RenderSvg(f);
}

}  // namespace chexworld
