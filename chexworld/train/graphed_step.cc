#include "chexworld/train/graphed_step.h"

#ifdef CHEXWORLD_HAVE_CUDA
#include <ATen/cuda/CUDAEvent.h>
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#endif

#include <sstream>

#include "absl/strings/str_cat.h"

namespace chexworld {
namespace {

std::string Shapes(const WorldModelBatch& b) {
  std::ostringstream os;
  b.ForEach([&](const torch::Tensor& t) { os << t.sizes() << " "; });
  return os.str();
}

}  // namespace

#ifdef CHEXWORLD_HAVE_CUDA

struct GraphedStep::Impl {
  Impl(torch::Device d, StepFn s, int w)
      : device(d), step(std::move(s)), warmup(w), side(c10::cuda::getStreamFromPool(false, d.index())) {}
  torch::Device device;
  StepFn step;
  int warmup;
  int done = 0;
  c10::cuda::CUDAStream side;
  WorldModelBatch inputs;  // the fixed input buffers
  std::string shapes;
  std::unique_ptr<at::cuda::CUDAGraph> graph;
  std::pair<ObjectiveOutput, torch::Tensor> outputs;  // the captured step's, rewritten by each replay

  // `fn` on the side stream, ordered after the work already on the current
  // stream and before what comes after it.
  void OnSideStream(const std::function<void()>& fn) {
    const c10::cuda::CUDAStream current = c10::cuda::getCurrentCUDAStream(device.index());
    at::cuda::CUDAEvent before;
    before.record(current);
    before.block(side);
    {
      c10::cuda::CUDAStreamGuard guard(side);
      fn();
    }
    at::cuda::CUDAEvent after;
    after.record(side);
    after.block(current);
  }
};

GraphedStep::GraphedStep(torch::Device device, StepFn step, int warmup)
    : impl_(std::make_unique<Impl>(device, std::move(step), warmup)) {}

absl::StatusOr<std::pair<ObjectiveOutput, torch::Tensor>> GraphedStep::Run(const WorldModelBatch& host) {
  Impl& s = *impl_;
  torch::NoGradGuard no_grad_for_the_copy;
  if (!s.inputs.image1.defined()) {
    s.inputs = host.To(s.device);  // allocated once, reused by every step
    s.shapes = Shapes(host);
  } else {
    if (Shapes(host) != s.shapes) {
      return absl::FailedPreconditionError(absl::StrCat(
          "trainer.cuda_graph: a batch of shapes ", Shapes(host), "after batches of ", s.shapes,
          "(the masker must give fixed lengths)"));
    }
    // On the compute stream: after the previous step has read the buffers.
    host.CopyInto(s.inputs);
  }
  if (s.done < s.warmup) {
    std::pair<ObjectiveOutput, torch::Tensor> out;
    s.OnSideStream([&] { out = s.step(s.inputs); });
    ++s.done;
    return out;
  }
  if (!s.graph) {
    s.graph = std::make_unique<at::cuda::CUDAGraph>();
    s.OnSideStream([&] {
      // Thread-local: the loader's threads pinning memory meanwhile do not
      // invalidate the capture (as the global mode would make them).
      s.graph->capture_begin(/*pool=*/{0, 0}, cudaStreamCaptureModeThreadLocal);
      s.outputs = s.step(s.inputs);
      s.graph->capture_end();
    });
  }
  s.graph->replay();
  return s.outputs;
}

bool GraphedStep::captured() const { return impl_->graph != nullptr; }

#else  // !CHEXWORLD_HAVE_CUDA

struct GraphedStep::Impl {};

GraphedStep::GraphedStep(torch::Device, StepFn, int) : impl_(std::make_unique<Impl>()) {}

absl::StatusOr<std::pair<ObjectiveOutput, torch::Tensor>> GraphedStep::Run(const WorldModelBatch& host) {
  return absl::FailedPreconditionError(absl::StrCat("trainer.cuda_graph needs a build with CUDA (batch ",
                                                    Shapes(host), ")"));
}

bool GraphedStep::captured() const { return false; }

#endif  // CHEXWORLD_HAVE_CUDA

GraphedStep::~GraphedStep() = default;

}  // namespace chexworld
