// The CUDA-only pieces are compiled into every build CI makes (the PyTorch
// wheel has CUDA), and on a CPU device each does what its CPU contract says.
#include "chexworld/train/cuda_util.h"

#include <gtest/gtest.h>

namespace chexworld {
namespace {

TEST(CudaUtil, TheCudaPathsAreCompiledIn) {
  EXPECT_TRUE(BuiltWithCuda()) << "this libtorch has no CUDA, or the CUDA runtime's headers were not found: the "
                                  "side-stream copy, CUDA events and allocator statistics were left out "
                                  "(third_party/torch/libtorch.bzl says why in the build log)";
}

TEST(CudaUtil, CpuDevicesHaveNoCudaMemory) {
  const CudaMemory m = ReadCudaMemory(torch::Device(torch::kCPU));
  EXPECT_EQ(m.in_use, -1);
  EXPECT_EQ(m.peak_allocated, -1);
  EXPECT_EQ(m.peak_reserved, -1);
  ResetCudaPeaks(torch::Device(torch::kCPU));  // a no-op, not a crash
}

TEST(CudaUtil, CopierOnCpuKeepsEveryFieldAndPacking) {
  WorldModelBatch b;
  b.image1 = torch::randn({2, 1, 4, 4});
  b.image_aug1 = torch::randn({2, 1, 4, 4});
  b.action1 = torch::randn({2, 5});
  b.masks_enc1 = torch::tensor({{0, 1}, {2, 3}}, torch::kLong);
  b.masks_pred1 = torch::tensor({{4}, {5}}, torch::kLong);
  const WorldModelBatch packed = b.Packed(/*pin=*/false);
  DeviceCopier copier(torch::Device(torch::kCPU));
  const WorldModelBatch out = copier.ToDevice(packed);
  EXPECT_TRUE(torch::equal(out.image1, b.image1));
  EXPECT_TRUE(torch::equal(out.masks_pred1, b.masks_pred1));
  EXPECT_TRUE(out.packed());
  int fields = 0;
  out.ForEach([&](const torch::Tensor&) { ++fields; });
  EXPECT_EQ(fields, 5);
}

TEST(CudaUtil, PhaseTimerGivesOneFigurePerPhaseAndClears) {
  PhaseTimer timer(torch::Device(torch::kCPU));
  timer.Mark();
  auto x = torch::randn({64, 64});
  for (int i = 0; i < 3; ++i) {
    x = x.mm(x).tanh();
    timer.Mark();
  }
  const std::vector<double> ms = timer.Milliseconds();
  ASSERT_EQ(ms.size(), 3u);
  for (double v : ms) EXPECT_GE(v, 0.0);
  EXPECT_TRUE(timer.Milliseconds().empty());
}

}  // namespace
}  // namespace chexworld
