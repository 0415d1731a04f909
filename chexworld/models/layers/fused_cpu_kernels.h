// Float32 CPU loops behind the fused LayerNorm and Linear + GELU autograd
// functions (fused_cpu_ops.h). No torch here: plain row-major buffers, one
// pass per direction, vectorised with the compiler's vector extensions and
// compiled for x86-64 twice, AVX2 + FMA and AVX-512, chosen at run time
// (CHEXWORLD_FUSED_CPU_ISA=avx2 forces the former, =none turns the fused
// LayerNorm and GELU off). Call them only where KernelsSupported(); elsewhere
// the layers keep libtorch's operators.
//
// Each function works on `rows` consecutive rows; callers split the rows into
// fixed chunks across threads and reduce per-chunk partial sums in chunk
// order, so results do not depend on the thread count.
#ifndef CHEXWORLD_MODELS_LAYERS_FUSED_CPU_KERNELS_H_
#define CHEXWORLD_MODELS_LAYERS_FUSED_CPU_KERNELS_H_

#include <cstdint>
#include <string>

namespace chexworld {
namespace kernels {

// True on an x86-64 CPU with AVX2 and FMA (checked once).
bool KernelsSupported();
// "avx512", "avx2" or "none": the variant in use.
const char* KernelsIsa();
// Switches the variant ("avx512", "avx2", "none"); false, changing nothing,
// where this CPU lacks it. For tests and benchmarks; not while kernels run.
bool SetKernelsIsa(const std::string& isa);

// y = (x - mean) * rstd * w + b per row of width d (w, b: null for none).
// Writes each row's mean and rstd = 1 / sqrt(var + eps) (biased variance).
void LayerNormForward(const float* x, const float* w, const float* b, int64_t rows, int64_t d, float eps, float* y,
                      float* mean, float* rstd);

// Backward of LayerNormForward from its saved mean and rstd: writes dx (when
// not null) and adds sum over rows of dy * xhat to dw_acc and of dy to
// db_acc (when not null).
void LayerNormBackward(const float* dy, const float* x, const float* mean, const float* rstd, const float* w,
                       int64_t rows, int64_t d, float* dx, float* dw_acc, float* db_acc);

// pre[r, j] += b[j] (b may be null), out = GELU(pre) with the exact erf GELU
// x * Phi(x). `pre` keeps the biased pre-activation for the backward.
void BiasGeluForward(float* pre, const float* b, int64_t rows, int64_t h, float* out);

// dpre = dy * GELU'(pre); adds the column sums of dpre to db_acc (when not null).
void GeluBackward(const float* dy, const float* pre, int64_t rows, int64_t h, float* dpre, float* db_acc);

// Scalars of the same vector code, for tests: GELU(x) and GELU'(x).
float Gelu(float x);
float GeluGrad(float x);

}  // namespace kernels
}  // namespace chexworld

#endif  // CHEXWORLD_MODELS_LAYERS_FUSED_CPU_KERNELS_H_
