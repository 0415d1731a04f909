// The trainer's CUDA-only pieces behind a header without CUDA: device memory
// figures, the batch copy on a side stream, and phase timing with CUDA events.
// cuda_util.cc compiles them against the CUDA runtime where the libtorch has
// CUDA (@libtorch//:cuda defines CHEXWORLD_HAVE_CUDA; CI builds it), and
// every function also works on CPU devices: memory figures are -1, copies are
// plain, timings are the host's clock.
#ifndef CHEXWORLD_TRAIN_CUDA_UTIL_H_
#define CHEXWORLD_TRAIN_CUDA_UTIL_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <vector>

#include <torch/torch.h>

#include "chexworld/data/batch.h"

namespace chexworld {

// Whether this build compiled the CUDA paths (the libtorch has CUDA and its
// runtime's headers were found).
bool BuiltWithCuda();

// Memory of one CUDA device, in bytes; -1 where it does not apply (a CPU
// device, or a build without CUDA).
struct CudaMemory {
  // cudaMemGetInfo's total - free: what nvidia-smi shows (every process's
  // memory on the device, this one's caching allocator reserve included).
  int64_t in_use = -1;
  // The caching allocator's peaks since the last ResetCudaPeaks (or start):
  // bytes held by live tensors (torch.cuda.max_memory_allocated) and bytes
  // the allocator reserved from the driver (max_memory_reserved).
  int64_t peak_allocated = -1;
  int64_t peak_reserved = -1;
};
CudaMemory ReadCudaMemory(const torch::Device& device);
void ResetCudaPeaks(const torch::Device& device);

// Moves batches to the training device. On CUDA a packed, pinned batch
// (WorldModelBatch::Packed) is copied on a side stream: the copy is enqueued
// there, an event recorded after it, and the compute stream made to wait for
// that event on the device (the host never waits), so the copy overlaps the
// kernels of the step before it; the device buffers are marked as used by the
// compute stream, so the caching allocator does not hand them to the next
// copy while a step still reads them. Elsewhere it is WorldModelBatch::To.
class DeviceCopier {
 public:
  explicit DeviceCopier(const torch::Device& device);
  ~DeviceCopier();
  DeviceCopier(const DeviceCopier&) = delete;
  DeviceCopier& operator=(const DeviceCopier&) = delete;

  WorldModelBatch ToDevice(const WorldModelBatch& host);

 private:
  struct Impl;
  torch::Device device_;
  std::unique_ptr<Impl> impl_;
};

// Times consecutive phases of a step without synchronising between them: on
// CUDA an event is recorded on the current stream at each Mark, and
// Milliseconds() waits for the last one, then returns the device time between
// consecutive marks; on CPU the marks read the host's clock.
class PhaseTimer {
 public:
  explicit PhaseTimer(const torch::Device& device);
  ~PhaseTimer();
  PhaseTimer(const PhaseTimer&) = delete;
  PhaseTimer& operator=(const PhaseTimer&) = delete;

  void Mark();                         // the start, then the end of each phase
  std::vector<double> Milliseconds();  // one per phase; clears the marks

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace chexworld

#endif  // CHEXWORLD_TRAIN_CUDA_UTIL_H_
