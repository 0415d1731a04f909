#include "chexworld/models/layers/fused_cpu_kernels.h"

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>

// The kernels are written once over eight- or sixteen-lane float vectors (GCC
// / Clang vector extensions) and compiled twice on x86-64: for AVX2 + FMA and
// for AVX-512; the CPU picks one at run time. Elsewhere they are not built
// (KernelsSupported is false and the layers keep libtorch's operators).
// Helpers: always inlined, for the same target as the kernels that call them.
#define CHEXWORLD_INLINE static inline __attribute__((always_inline)) CHEXWORLD_TARGET

namespace chexworld {
namespace kernels {

#if defined(__x86_64__)
namespace avx2 {
#define CHEXWORLD_LANES 8
#define CHEXWORLD_TARGET __attribute__((target("avx2,fma")))
#include "chexworld/models/layers/fused_cpu_kernels_body.inc"
#undef CHEXWORLD_LANES
#undef CHEXWORLD_TARGET
}  // namespace avx2

namespace avx512 {
#define CHEXWORLD_LANES 16
#define CHEXWORLD_TARGET __attribute__((target("avx512f,avx2,fma")))
#include "chexworld/models/layers/fused_cpu_kernels_body.inc"
#undef CHEXWORLD_LANES
#undef CHEXWORLD_TARGET
}  // namespace avx512

namespace {
enum class Isa { kNone, kAvx2, kAvx512 };
bool Avx2() { return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"); }
bool Avx512() { return Avx2() && __builtin_cpu_supports("avx512f"); }

std::atomic<Isa>& Current() {
  static std::atomic<Isa> isa([] {
    const char* force = std::getenv("CHEXWORLD_FUSED_CPU_ISA");
    const std::string want = force == nullptr ? "" : force;
    if (want == "none") return Isa::kNone;
    if (want == "avx2") return Avx2() ? Isa::kAvx2 : Isa::kNone;
    return Avx512() ? Isa::kAvx512 : Avx2() ? Isa::kAvx2 : Isa::kNone;
  }());
  return isa;
}

Isa Detect() { return Current().load(std::memory_order_relaxed); }
}  // namespace

#define CHEXWORLD_DISPATCH(fn, ...) (Detect() == Isa::kAvx512 ? avx512::fn(__VA_ARGS__) : avx2::fn(__VA_ARGS__))

bool KernelsSupported() { return Detect() != Isa::kNone; }

const char* KernelsIsa() {
  switch (Detect()) {
    case Isa::kAvx512:
      return "avx512";
    case Isa::kAvx2:
      return "avx2";
    default:
      return "none";
  }
}

bool SetKernelsIsa(const std::string& isa) {
  const Isa want = isa == "avx512" ? Isa::kAvx512 : isa == "avx2" ? Isa::kAvx2 : Isa::kNone;
  if ((want == Isa::kAvx512 && !Avx512()) || (want == Isa::kAvx2 && !Avx2()) || (want == Isa::kNone && isa != "none")) {
    return false;
  }
  Current().store(want, std::memory_order_relaxed);
  return true;
}

void LayerNormForward(const float* x, const float* w, const float* b, int64_t rows, int64_t d, float eps, float* y,
                      float* mean, float* rstd) {
  CHEXWORLD_DISPATCH(LayerNormForward, x, w, b, rows, d, eps, y, mean, rstd);
}

void LayerNormBackward(const float* dy, const float* x, const float* mean, const float* rstd, const float* w,
                       int64_t rows, int64_t d, float* dx, float* dw_acc, float* db_acc) {
  CHEXWORLD_DISPATCH(LayerNormBackward, dy, x, mean, rstd, w, rows, d, dx, dw_acc, db_acc);
}

void BiasGeluForward(float* pre, const float* b, int64_t rows, int64_t h, float* out) {
  CHEXWORLD_DISPATCH(BiasGeluForward, pre, b, rows, h, out);
}

void GeluBackward(const float* dy, const float* pre, int64_t rows, int64_t h, float* dpre, float* db_acc) {
  CHEXWORLD_DISPATCH(GeluBackward, dy, pre, rows, h, dpre, db_acc);
}

#else  // not x86-64

bool KernelsSupported() { return false; }
const char* KernelsIsa() { return "none"; }
bool SetKernelsIsa(const std::string& isa) { return isa == "none"; }
void LayerNormForward(const float*, const float*, const float*, int64_t, int64_t, float, float*, float*, float*) {
  std::abort();
}
void LayerNormBackward(const float*, const float*, const float*, const float*, const float*, int64_t, int64_t, float*,
                       float*, float*) {
  std::abort();
}
void BiasGeluForward(float*, const float*, int64_t, int64_t, float*) { std::abort(); }
void GeluBackward(const float*, const float*, int64_t, int64_t, float*, float*) { std::abort(); }

#endif

float Gelu(float x) {
  float out;
  float pre = x;
  BiasGeluForward(&pre, nullptr, 1, 1, &out);
  return out;
}

float GeluGrad(float x) {
  const float one = 1.0f;
  float out;
  GeluBackward(&one, &x, 1, 1, &out, nullptr);
  return out;
}

}  // namespace kernels
}  // namespace chexworld
