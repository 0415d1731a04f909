// Process set-up shared by every binary: torch threads, device, and a loud
// report of which BLAS the matmuls run on.
#ifndef CHEXWORLD_TRAIN_RUNTIME_H_
#define CHEXWORLD_TRAIN_RUNTIME_H_

#include <string>

#include <torch/torch.h>

#include "absl/status/statusor.h"
#include "chexworld/proto/experiment.pb.h"

namespace chexworld {

struct BlasInfo {
  // The library libtorch's own sgemm_ resolves to (through libtorch_cpu's
  // dependencies): a system BLAS, or libtorch_cpu itself when it carries its
  // own (MKL in PyTorch wheels). Empty when libtorch_cpu is not loaded.
  std::string library;
  std::string config;   // openblas_get_config(), when that library is OpenBLAS
  bool is_openblas = false;
  bool is_openmp = false;
  bool is_reference = false;  // Debian's netlib reference BLAS (~20x slower)
};

BlasInfo DescribeBlas();

// Sets torch's intra-op threads (0 = all cores), checks the device string and
// logs threads + BLAS (a warning for the reference or pthread BLAS).
absl::StatusOr<torch::Device> ConfigureRuntime(const RunConfig& run);

// Parses "cpu", "cuda", "cuda:N"; FailedPrecondition when CUDA is unavailable.
absl::StatusOr<torch::Device> ParseDevice(const std::string& device);

}  // namespace chexworld

#endif  // CHEXWORLD_TRAIN_RUNTIME_H_
