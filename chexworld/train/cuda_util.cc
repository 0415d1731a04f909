#include "chexworld/train/cuda_util.h"

#ifdef CHEXWORLD_HAVE_CUDA
#include <ATen/cuda/CUDAEvent.h>
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <cuda_runtime_api.h>
#endif

#include <utility>

namespace chexworld {

bool BuiltWithCuda() {
#ifdef CHEXWORLD_HAVE_CUDA
  return true;
#else
  return false;
#endif
}

#ifdef CHEXWORLD_HAVE_CUDA

namespace {

c10::DeviceIndex Index(const torch::Device& device) {
  return device.has_index() ? device.index() : c10::cuda::current_device();
}

}  // namespace

CudaMemory ReadCudaMemory(const torch::Device& device) {
  CudaMemory m;
  if (!device.is_cuda() || !torch::cuda::is_available()) return m;
  const c10::DeviceIndex index = Index(device);
  {
    c10::cuda::CUDAGuard guard(index);
    size_t free_bytes = 0, total_bytes = 0;
    if (cudaMemGetInfo(&free_bytes, &total_bytes) == cudaSuccess) m.in_use = static_cast<int64_t>(total_bytes - free_bytes);
  }
  const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(index);
  using c10::CachingAllocator::StatType;
  m.peak_allocated = stats.allocated_bytes[static_cast<size_t>(StatType::AGGREGATE)].peak;
  m.peak_reserved = stats.reserved_bytes[static_cast<size_t>(StatType::AGGREGATE)].peak;
  return m;
}

void ResetCudaPeaks(const torch::Device& device) {
  if (!device.is_cuda() || !torch::cuda::is_available()) return;
  c10::cuda::CUDACachingAllocator::resetPeakStats(Index(device));
}

struct DeviceCopier::Impl {
  explicit Impl(c10::DeviceIndex index) : stream(c10::cuda::getStreamFromPool(/*isHighPriority=*/false, index)) {}
  c10::cuda::CUDAStream stream;
  at::cuda::CUDAEvent copied;
};

DeviceCopier::DeviceCopier(const torch::Device& device) : device_(device) {
  if (device_.is_cuda() && torch::cuda::is_available()) impl_ = std::make_unique<Impl>(Index(device_));
}

WorldModelBatch DeviceCopier::ToDevice(const WorldModelBatch& host) {
  if (!impl_) return host.To(device_);
  const c10::cuda::CUDAStream compute = c10::cuda::getCurrentCUDAStream(impl_->stream.device_index());
  WorldModelBatch out;
  {
    c10::cuda::CUDAStreamGuard on_copy_stream(impl_->stream);
    out = host.To(device_);
    impl_->copied.record(impl_->stream);
  }
  impl_->copied.block(compute);
  out.ForEach([&](const torch::Tensor& t) { t.record_stream(compute); });
  return out;
}

struct PhaseTimer::Impl {
  explicit Impl(const torch::Device& d) : cuda(d.is_cuda() && torch::cuda::is_available()) {}
  bool cuda;
  std::vector<at::cuda::CUDAEvent> events;
  std::vector<std::chrono::steady_clock::time_point> times;
};

void PhaseTimer::Mark() {
  if (impl_->cuda) {
    impl_->events.emplace_back(cudaEventDefault);  // timing on
    impl_->events.back().record();
  } else {
    impl_->times.push_back(std::chrono::steady_clock::now());
  }
}

std::vector<double> PhaseTimer::Milliseconds() {
  std::vector<double> ms;
  if (impl_->cuda) {
    if (!impl_->events.empty()) impl_->events.back().synchronize();
    for (size_t i = 1; i < impl_->events.size(); ++i) ms.push_back(impl_->events[i - 1].elapsed_time(impl_->events[i]));
    impl_->events.clear();
  } else {
    for (size_t i = 1; i < impl_->times.size(); ++i) {
      ms.push_back(std::chrono::duration<double, std::milli>(impl_->times[i] - impl_->times[i - 1]).count());
    }
    impl_->times.clear();
  }
  return ms;
}

#else  // !CHEXWORLD_HAVE_CUDA

CudaMemory ReadCudaMemory(const torch::Device&) { return CudaMemory(); }
void ResetCudaPeaks(const torch::Device&) {}

struct DeviceCopier::Impl {};

DeviceCopier::DeviceCopier(const torch::Device& device) : device_(device) {}

WorldModelBatch DeviceCopier::ToDevice(const WorldModelBatch& host) { return host.To(device_); }

struct PhaseTimer::Impl {
  explicit Impl(const torch::Device&) {}
  std::vector<std::chrono::steady_clock::time_point> times;
};

void PhaseTimer::Mark() { impl_->times.push_back(std::chrono::steady_clock::now()); }

std::vector<double> PhaseTimer::Milliseconds() {
  std::vector<double> ms;
  for (size_t i = 1; i < impl_->times.size(); ++i) {
    ms.push_back(std::chrono::duration<double, std::milli>(impl_->times[i] - impl_->times[i - 1]).count());
  }
  impl_->times.clear();
  return ms;
}

#endif  // CHEXWORLD_HAVE_CUDA

DeviceCopier::~DeviceCopier() = default;

PhaseTimer::PhaseTimer(const torch::Device& device) : impl_(std::make_unique<Impl>(device)) {}
PhaseTimer::~PhaseTimer() = default;

}  // namespace chexworld
