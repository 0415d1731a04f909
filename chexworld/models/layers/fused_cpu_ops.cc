#include "chexworld/models/layers/fused_cpu_ops.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <ATen/autocast_mode.h>
#include <torch/autograd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>

#include "chexworld/models/layers/fused_cpu_kernels.h"

namespace chexworld {
namespace {

// Rows per work item: threads take whole chunks, and the weight and bias
// gradients are summed per chunk and then over chunks in order, the same for
// every thread count.
constexpr int64_t kRowsPerChunk = 32;

std::atomic<bool>& EnabledFlag() {
  static std::atomic<bool> enabled([] {
    const char* v = std::getenv("CHEXWORLD_FUSED_CPU_KERNELS");
    return v == nullptr || std::strcmp(v, "0") != 0;
  }());
  return enabled;
}

bool CpuAutocastOn() { return at::autocast::is_autocast_enabled(at::kCPU); }

int64_t Chunks(int64_t rows) { return (rows + kRowsPerChunk - 1) / kRowsPerChunk; }

// fn(first_row, row_count, chunk) over every chunk, across torch's threads.
template <typename Fn>
void ForEachChunk(int64_t rows, const Fn& fn) {
  at::parallel_for(0, Chunks(rows), 1, [&](int64_t begin, int64_t end) {
    for (int64_t c = begin; c < end; ++c) {
      const int64_t first = c * kRowsPerChunk;
      fn(first, std::min(kRowsPerChunk, rows - first), c);
    }
  });
}

// Sums the rows of partials [chunks, width] in order.
at::Tensor SumChunks(const at::Tensor& partials) {
  const int64_t chunks = partials.size(0), width = partials.size(1);
  auto out = partials[0].clone();
  float* o = out.data_ptr<float>();
  const float* p = partials.data_ptr<float>();
  for (int64_t c = 1; c < chunks; ++c) {
    for (int64_t j = 0; j < width; ++j) o[j] += p[c * width + j];
  }
  return out;
}

const float* OrNull(const at::Tensor& t) { return t.defined() ? t.data_ptr<float>() : nullptr; }

at::Tensor Rows(const at::Tensor& x) { return x.contiguous().view({-1, x.size(-1)}); }

// y, mean, rstd for x2 [R, D].
void LayerNormRows(const at::Tensor& x2, const at::Tensor& w, const at::Tensor& b, double eps, at::Tensor* y,
                   at::Tensor* mean, at::Tensor* rstd) {
  const int64_t rows = x2.size(0), d = x2.size(1);
  *y = at::empty_like(x2);
  *mean = at::empty({rows}, x2.options());
  *rstd = at::empty({rows}, x2.options());
  const float *x = x2.data_ptr<float>(), *wp = OrNull(w), *bp = OrNull(b);
  float *yp = y->data_ptr<float>(), *mp = mean->data_ptr<float>(), *rp = rstd->data_ptr<float>();
  ForEachChunk(rows, [&](int64_t first, int64_t n, int64_t) {
    kernels::LayerNormForward(x + first * d, wp, bp, n, d, static_cast<float>(eps), yp + first * d, mp + first,
                              rp + first);
  });
}

class LayerNormFunction : public torch::autograd::Function<LayerNormFunction> {
 public:
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x, const at::Tensor& w,
                            const at::Tensor& b, double eps) {
    auto x2 = Rows(x);
    at::Tensor y, mean, rstd;
    LayerNormRows(x2, w, b, eps, &y, &mean, &rstd);
    ctx->save_for_backward({x2, mean, rstd, w});
    ctx->saved_data["has_w"] = w.defined();
    ctx->saved_data["has_b"] = b.defined();
    return y.view(x.sizes());
  }

  static torch::autograd::tensor_list backward(torch::autograd::AutogradContext* ctx,
                                               torch::autograd::tensor_list grads) {
    auto saved = ctx->get_saved_variables();
    const auto& x2 = saved[0];
    const auto& mean = saved[1];
    const auto& rstd = saved[2];
    const bool has_w = ctx->saved_data["has_w"].toBool(), has_b = ctx->saved_data["has_b"].toBool();
    const at::Tensor w = has_w ? saved[3] : at::Tensor();
    const int64_t rows = x2.size(0), d = x2.size(1);
    auto dy = Rows(grads[0]);
    const bool want_dx = ctx->needs_input_grad(0);
    const bool want_dw = has_w && ctx->needs_input_grad(1), want_db = has_b && ctx->needs_input_grad(2);
    at::Tensor dx = want_dx ? at::empty_like(x2) : at::Tensor();
    at::Tensor dw_part = want_dw ? at::zeros({Chunks(rows), d}, x2.options()) : at::Tensor();
    at::Tensor db_part = want_db ? at::zeros({Chunks(rows), d}, x2.options()) : at::Tensor();
    const float *dyp = dy.data_ptr<float>(), *xp = x2.data_ptr<float>(), *mp = mean.data_ptr<float>(),
                *rp = rstd.data_ptr<float>(), *wp = OrNull(w);
    float *dxp = want_dx ? dx.data_ptr<float>() : nullptr, *dwp = want_dw ? dw_part.data_ptr<float>() : nullptr,
          *dbp = want_db ? db_part.data_ptr<float>() : nullptr;
    ForEachChunk(rows, [&](int64_t first, int64_t n, int64_t c) {
      kernels::LayerNormBackward(dyp + first * d, xp + first * d, mp + first, rp + first, wp, n, d,
                                 dxp ? dxp + first * d : nullptr, dwp ? dwp + c * d : nullptr,
                                 dbp ? dbp + c * d : nullptr);
    });
    const auto& shape = grads[0].sizes();
    return {want_dx ? dx.view(shape) : at::Tensor(), want_dw ? SumChunks(dw_part) : at::Tensor(),
            want_db ? SumChunks(db_part) : at::Tensor(), at::Tensor()};
  }
};

class LinearGeluFunction : public torch::autograd::Function<LinearGeluFunction> {
 public:
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x, const at::Tensor& w,
                            const at::Tensor& b) {
    auto x2 = Rows(x);
    auto pre = at::mm(x2, w.t());
    auto out = at::empty_like(pre);
    const int64_t h = pre.size(1);
    float *pp = pre.data_ptr<float>(), *op = out.data_ptr<float>();
    const float* bp = OrNull(b);
    ForEachChunk(pre.size(0), [&](int64_t first, int64_t n, int64_t) {
      kernels::BiasGeluForward(pp + first * h, bp, n, h, op + first * h);
    });
    ctx->save_for_backward({x2, w, pre});
    ctx->saved_data["has_b"] = b.defined();
    auto shape = x.sizes().vec();
    shape.back() = h;
    return out.view(shape);
  }

  static torch::autograd::tensor_list backward(torch::autograd::AutogradContext* ctx,
                                               torch::autograd::tensor_list grads) {
    auto saved = ctx->get_saved_variables();
    const auto& x2 = saved[0];
    const auto& w = saved[1];
    const auto& pre = saved[2];
    const int64_t rows = pre.size(0), h = pre.size(1);
    const bool want_db = ctx->saved_data["has_b"].toBool() && ctx->needs_input_grad(2);
    auto dy = Rows(grads[0]);
    auto dpre = at::empty_like(pre);
    at::Tensor db_part = want_db ? at::zeros({Chunks(rows), h}, pre.options()) : at::Tensor();
    const float *dyp = dy.data_ptr<float>(), *pp = pre.data_ptr<float>();
    float *dp = dpre.data_ptr<float>(), *dbp = want_db ? db_part.data_ptr<float>() : nullptr;
    ForEachChunk(rows, [&](int64_t first, int64_t n, int64_t c) {
      kernels::GeluBackward(dyp + first * h, pp + first * h, n, h, dp + first * h, dbp ? dbp + c * h : nullptr);
    });
    at::Tensor dx, dw;
    if (ctx->needs_input_grad(0)) {
      auto shape = grads[0].sizes().vec();
      shape.back() = x2.size(1);
      dx = at::mm(dpre, w).view(shape);
    }
    if (ctx->needs_input_grad(1)) dw = at::mm(dpre.t(), x2);
    return {dx, dw, want_db ? SumChunks(db_part) : at::Tensor()};
  }
};

bool NeedsGraph(std::initializer_list<const at::Tensor*> inputs) {
  if (!at::GradMode::is_enabled()) return false;
  for (const at::Tensor* t : inputs) {
    if (t->defined() && t->requires_grad()) return true;
  }
  return false;
}

void CheckSupported() {
  TORCH_CHECK(kernels::KernelsSupported(), "the fused CPU kernels need an x86-64 CPU with AVX2 and FMA");
}

void CheckFloatCpu(const at::Tensor& t, const char* what) {
  TORCH_CHECK(!t.defined() || (t.device().is_cpu() && t.scalar_type() == at::kFloat && t.layout() == at::kStrided),
              "fused CPU kernels take float32 strided CPU tensors; ", what, " is ", t.scalar_type(), " on ",
              t.device());
}

}  // namespace

bool FusedCpuKernelsEnabled() { return EnabledFlag().load(std::memory_order_relaxed); }
void SetFusedCpuKernels(bool enabled) { EnabledFlag().store(enabled, std::memory_order_relaxed); }

bool FusedCpuApplies(const at::Tensor& x) {
  return FusedCpuKernelsEnabled() && kernels::KernelsSupported() && x.defined() && x.device().is_cpu() &&
         x.scalar_type() == at::kFloat && x.layout() == at::kStrided && x.dim() >= 1 && x.numel() > 0 &&
         !CpuAutocastOn();
}

at::Tensor FusedLayerNorm(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias, double eps) {
  CheckSupported();
  CheckFloatCpu(x, "the input");
  CheckFloatCpu(weight, "the weight");
  CheckFloatCpu(bias, "the bias");
  const int64_t d = x.size(-1);
  TORCH_CHECK(!weight.defined() || weight.numel() == d, "LayerNorm weight has ", weight.numel(), " values for width ",
              d);
  TORCH_CHECK(!bias.defined() || bias.numel() == d, "LayerNorm bias has ", bias.numel(), " values for width ", d);
  const at::Tensor w = weight.defined() ? weight.contiguous() : weight;
  const at::Tensor b = bias.defined() ? bias.contiguous() : bias;
  if (NeedsGraph({&x, &weight, &bias})) return LayerNormFunction::apply(x, w, b, eps);
  at::Tensor y, mean, rstd;
  LayerNormRows(Rows(x), w, b, eps, &y, &mean, &rstd);
  return y.view(x.sizes());
}

at::Tensor FusedLinearGelu(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias) {
  CheckSupported();
  CheckFloatCpu(x, "the input");
  CheckFloatCpu(weight, "the weight");
  CheckFloatCpu(bias, "the bias");
  TORCH_CHECK(weight.dim() == 2 && weight.size(1) == x.size(-1), "Linear weight ", weight.sizes(),
              " does not take inputs of width ", x.size(-1));
  TORCH_CHECK(!bias.defined() || bias.numel() == weight.size(0), "Linear bias has ", bias.numel(), " values for ",
              weight.size(0), " outputs");
  const at::Tensor b = bias.defined() ? bias.contiguous() : bias;
  if (NeedsGraph({&x, &weight, &bias})) return LinearGeluFunction::apply(x, weight, b);
  // No graph: the pre-activation is not kept, GELU is written over it.
  auto pre = at::mm(Rows(x), weight.t());
  const int64_t h = pre.size(1);
  float* pp = pre.data_ptr<float>();
  const float* bp = OrNull(b);
  ForEachChunk(pre.size(0), [&](int64_t first, int64_t n, int64_t) {
    kernels::BiasGeluForward(pp + first * h, bp, n, h, pp + first * h);
  });
  auto shape = x.sizes().vec();
  shape.back() = h;
  return pre.view(shape);
}

}  // namespace chexworld
