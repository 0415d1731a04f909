#include "chexworld/train/runtime.h"

#include <dlfcn.h>
#include <link.h>

#include <climits>
#include <cstdlib>
#include <thread>

#include <glog/logging.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace chexworld {
namespace {

int FindTorchCpu(struct dl_phdr_info* info, size_t, void* data) {
  const char* name = info->dlpi_name;
  if (name != nullptr && absl::StrContains(name, "libtorch_cpu.so")) {
    auto* out = static_cast<std::string*>(data);
    if (out->empty()) *out = name;
  }
  return 0;
}

std::string RealPath(const std::string& path) {
  char resolved[PATH_MAX];
  return realpath(path.c_str(), resolved) != nullptr ? resolved : path;
}

}  // namespace

BlasInfo DescribeBlas() {
  BlasInfo info;
  std::string torch_cpu;
  dl_iterate_phdr(&FindTorchCpu, &torch_cpu);
  if (torch_cpu.empty()) return info;
  // dlsym through libtorch_cpu's handle searches it and its dependencies in
  // load order: the sgemm_ its GEMM calls, not whichever libblas is mapped.
  void* handle = dlopen(torch_cpu.c_str(), RTLD_LAZY | RTLD_NOLOAD);
  if (handle == nullptr) return info;
  void* gemm = dlsym(handle, "sgemm_");
  Dl_info where{};
  if (gemm != nullptr && dladdr(gemm, &where) != 0 && where.dli_fname != nullptr) {
    info.library = RealPath(where.dli_fname);
    // openblas_get_config from that same library, if it is OpenBLAS.
    if (void* lib = dlopen(where.dli_fname, RTLD_LAZY | RTLD_NOLOAD)) {
      using ConfigFn = char* (*)();
      if (auto fn = reinterpret_cast<ConfigFn>(dlsym(lib, "openblas_get_config"))) {
        info.is_openblas = true;
        info.config = fn();
        info.is_openmp = absl::StrContains(info.config, "USE_OPENMP");
      }
      dlclose(lib);
    }
  } else {
    info.library = RealPath(torch_cpu) + " (its own GEMM; no sgemm_ from a system BLAS)";
  }
  dlclose(handle);
  info.is_reference = !info.is_openblas && absl::StrContains(info.library, "/blas/");
  return info;
}

absl::StatusOr<torch::Device> ParseDevice(const std::string& device) {
  const std::string d = device.empty() ? "cpu" : device;
  try {
    torch::Device dev(d);
    if (dev.is_cuda() && !torch::cuda::is_available()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "no CUDA device: run.device = \"", d, "\", but ",
          torch::hasCUDA() ? "the CUDA runtime finds no GPU on this machine (no driver, or CUDA_VISIBLE_DEVICES hides them)"
                           : "this libtorch was built without CUDA",
          "; use run.device = \"cpu\""));
    }
    if (dev.is_cuda() && dev.has_index() && dev.index() >= static_cast<int>(torch::cuda::device_count())) {
      return absl::FailedPreconditionError(absl::StrCat("no CUDA device: run.device = \"", d, "\", but this machine has ",
                                                        torch::cuda::device_count(), " CUDA device(s)"));
    }
    return dev;
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("run.device = \"", d, "\" is not a torch device string"));
  }
}

absl::StatusOr<torch::Device> ConfigureRuntime(const RunConfig& run) {
  auto device = ParseDevice(run.device());
  if (!device.ok()) return device.status();
  if (run.threads() < 0) return absl::InvalidArgumentError("run.threads must be >= 0");
  int threads = run.threads() > 0 ? run.threads() : static_cast<int>(std::thread::hardware_concurrency());
  if (threads <= 0) threads = 1;
  torch::set_num_threads(threads);
  BlasInfo blas = DescribeBlas();
  LOG(INFO) << "torch threads: " << torch::get_num_threads() << ", device: " << device->str()
            << ", libtorch's GEMM: " << (blas.library.empty() ? "(libtorch_cpu not found)" : blas.library)
            << (blas.config.empty() ? "" : " [" + blas.config + "]");
  if (blas.is_reference) {
    LOG(WARNING) << "\n*** libtorch is using Debian's reference BLAS (" << blas.library
                 << "): matmuls are about 20x slower. Install libopenblas0-openmp "
                    "(tools/install_deps.sh does) ***";
  } else if (blas.is_openblas && !blas.is_openmp) {
    LOG(WARNING) << "*** OpenBLAS without OpenMP: its threads and libtorch's OpenMP threads compete; "
                    "training runs about 2x slower. Install libopenblas0-openmp and point the "
                    "libblas.so.3 alternative at it (tools/install_deps.sh) ***";
  }
  return *device;
}

}  // namespace chexworld
