#include "chexworld/models/layers/attention_core.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/autograd.h>

#include <cmath>

#include "chexworld/models/layers/fused_cpu_ops.h"

// CBLAS from the system BLAS (libblas.so.3: OpenBLAS or the reference BLAS);
// declared here so that no BLAS development header is needed. The enum
// values are fixed by the CBLAS standard.
extern "C" void cblas_sgemm(int order, int transa, int transb, int m, int n, int k, float alpha, const float* a,
                            int lda, const float* b, int ldb, float beta, float* c, int ldc);

namespace chexworld {
namespace {

constexpr int kRowMajor = 101, kNoTrans = 111, kTrans = 112;

// Row-major C[m x n] = alpha * op(A) op(B) + beta * C.
inline void Gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
                 const float* b, int64_t ldb, float* c, int64_t ldc) {
  cblas_sgemm(kRowMajor, ta ? kTrans : kNoTrans, tb ? kTrans : kNoTrans, static_cast<int>(m), static_cast<int>(n),
              static_cast<int>(k), alpha, a, static_cast<int>(lda), b, static_cast<int>(ldb), 0.0f, c,
              static_cast<int>(ldc));
}

// Shapes of one call: B samples, N tokens, H heads of width D, C = H * D.
struct Dims {
  int64_t B, N, H, D, C;
  explicit Dims(const at::Tensor& qkv, int64_t heads)
      : B(qkv.size(0)), N(qkv.size(1)), H(heads), D(qkv.size(2) / 3 / heads), C(qkv.size(2) / 3) {}
  // Offsets of pair i = b * H + h into qkv-shaped [B, N, 3C] and out-shaped [B, N, C] buffers.
  int64_t q(int64_t i) const { return (i / H) * N * 3 * C + (i % H) * D; }
  int64_t k(int64_t i) const { return q(i) + C; }
  int64_t v(int64_t i) const { return q(i) + 2 * C; }
  int64_t o(int64_t i) const { return (i / H) * N * C + (i % H) * D; }
  int64_t s(int64_t i) const { return i * N * N; }
};

// Runs fn(i) for every (sample, head) pair across torch's intra-op threads.
// Inside the parallel region the OpenMP BLAS runs each call single-threaded.
template <typename Fn>
void ForEachPair(const Dims& d, const Fn& fn) {
  at::parallel_for(0, d.B * d.H, 1, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) fn(i);
  });
}

class FusedAttention : public torch::autograd::Function<FusedAttention> {
 public:
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& qkv_in, int64_t heads,
                            double scale) {
    auto qkv = qkv_in.contiguous();
    const Dims d(qkv, heads);
    auto scores = at::empty({d.B, d.H, d.N, d.N}, qkv.options());
    const float* x = qkv.data_ptr<float>();
    float* s = scores.data_ptr<float>();
    const int64_t ld = 3 * d.C;
    ForEachPair(d, [&](int64_t i) {
      Gemm(false, true, d.N, d.N, d.D, static_cast<float>(scale), x + d.q(i), ld, x + d.k(i), ld, s + d.s(i), d.N);
    });
    auto probs = at::_softmax(scores, -1, false);
    scores.reset();
    auto out = at::empty({d.B, d.N, d.C}, qkv.options());
    const float* p = probs.data_ptr<float>();
    float* o = out.data_ptr<float>();
    ForEachPair(d, [&](int64_t i) {
      Gemm(false, false, d.N, d.D, d.N, 1.0f, p + d.s(i), d.N, x + d.v(i), ld, o + d.o(i), d.C);
    });
    ctx->save_for_backward({qkv, probs});
    ctx->saved_data["heads"] = heads;
    ctx->saved_data["scale"] = scale;
    return out;
  }

  static torch::autograd::tensor_list backward(torch::autograd::AutogradContext* ctx,
                                               torch::autograd::tensor_list grads) {
    auto saved = ctx->get_saved_variables();
    const auto& qkv = saved[0];
    const auto& probs = saved[1];
    const int64_t heads = ctx->saved_data["heads"].toInt();
    const float scale = static_cast<float>(ctx->saved_data["scale"].toDouble());
    const Dims d(qkv, heads);
    const int64_t ld = 3 * d.C;
    auto grad_out = grads[0].contiguous();
    auto grad_qkv = at::empty_like(qkv);
    auto grad_probs = at::empty_like(probs);
    const float* x = qkv.data_ptr<float>();
    const float* p = probs.data_ptr<float>();
    const float* go = grad_out.data_ptr<float>();
    float* gx = grad_qkv.data_ptr<float>();
    float* gp = grad_probs.data_ptr<float>();
    ForEachPair(d, [&](int64_t i) {
      Gemm(false, true, d.N, d.N, d.D, 1.0f, go + d.o(i), d.C, x + d.v(i), ld, gp + d.s(i), d.N);   // dP = dO Vᵀ
      Gemm(true, false, d.N, d.D, d.N, 1.0f, p + d.s(i), d.N, go + d.o(i), d.C, gx + d.v(i), ld);   // dV = Pᵀ dO
    });
    auto grad_scores = at::_softmax_backward_data(grad_probs, probs, -1, at::kFloat);
    grad_probs.reset();
    const float* gs = grad_scores.data_ptr<float>();
    ForEachPair(d, [&](int64_t i) {
      Gemm(false, false, d.N, d.D, d.N, scale, gs + d.s(i), d.N, x + d.k(i), ld, gx + d.q(i), ld);  // dQ = s dS K
      Gemm(true, false, d.N, d.D, d.N, scale, gs + d.s(i), d.N, x + d.q(i), ld, gx + d.k(i), ld);   // dK = s dSᵀ Q
    });
    return {grad_qkv, at::Tensor(), at::Tensor()};
  }
};

}  // namespace

at::Tensor AttentionCoreReference(const at::Tensor& qkv, int64_t heads, double scale) {
  const int64_t b = qkv.size(0), n = qkv.size(1), c = qkv.size(2) / 3;
  auto parts = qkv.reshape({b, n, 3, heads, c / heads}).permute({2, 0, 3, 1, 4});
  auto q = parts[0], k = parts[1], v = parts[2];  // [B, h, N, d]
  auto attn = at::matmul(q, k.transpose(-2, -1)).mul(scale).softmax(-1);
  return at::matmul(attn, v).transpose(1, 2).reshape({b, n, c});
}

at::Tensor AttentionCoreSdpa(const at::Tensor& qkv, int64_t heads, double scale) {
  const int64_t b = qkv.size(0), n = qkv.size(1), c = qkv.size(2) / 3, d = c / heads;
  auto parts = qkv.reshape({b, n, 3, heads, d}).permute({2, 0, 3, 1, 4});
  auto q = parts[0], k = parts[1], v = parts[2];  // [B, h, N, d]
  return at::scaled_dot_product_attention(q, k, v, /*attn_mask=*/{}, /*dropout_p=*/0.0, /*is_causal=*/false, scale)
      .transpose(1, 2)
      .reshape({b, n, c});
}

bool FusedAttentionApplies(const at::Tensor& qkv) {
  return qkv.device().is_cpu() && qkv.scalar_type() == at::kFloat && qkv.dim() == 3 && qkv.size(2) % 3 == 0 &&
         qkv.numel() > 0 && qkv.layout() == at::kStrided;
}

at::Tensor AttentionCoreFusedCpu(const at::Tensor& qkv, int64_t heads, double scale) {
  TORCH_CHECK(FusedAttentionApplies(qkv), "fused attention needs a float32 CPU tensor [B, N, 3C], got ",
              qkv.scalar_type(), " ", qkv.device(), " ", qkv.sizes());
  TORCH_CHECK((qkv.size(2) / 3) % heads == 0, "width ", qkv.size(2) / 3, " is not divisible by ", heads, " heads");
  return FusedAttention::apply(qkv, heads, scale);
}

at::Tensor AttentionCore(const at::Tensor& qkv, int64_t heads, double scale) {
  if (FusedCpuKernelsEnabled() && FusedAttentionApplies(qkv)) return AttentionCoreFusedCpu(qkv, heads, scale);
  return AttentionCoreSdpa(qkv, heads, scale);
}

}  // namespace chexworld
