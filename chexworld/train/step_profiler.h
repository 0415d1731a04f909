// run.profile_steps "a:b": profiles micro-batches [a, b) of this process with
// libtorch's profiler (CPU operators; CUDA kernels too where libtorch has
// Kineto and CUDA) and writes, into <run_dir>/profile/:
//   trace.json  Chrome trace (chrome://tracing, ui.perfetto.dev)
//   ops.tsv     operator, calls and total microseconds on the training thread,
//               host synchronisations (aten::item, aten::_local_scalar_dense)
//               first, then by total time
// A step that does not log must show no host synchronisation there.
#ifndef CHEXWORLD_TRAIN_STEP_PROFILER_H_
#define CHEXWORLD_TRAIN_STEP_PROFILER_H_

#include <cstdint>
#include <functional>
#include <map>
#include <string>

#include "absl/status/statusor.h"

namespace chexworld {

struct ProfileWindow {
  int64_t begin = -1, end = -1;  // micro-batches [begin, end); begin < 0: off
  bool enabled() const { return begin >= 0; }
};

// "" -> off; "a:b" with 0 <= a < b. InvalidArgument naming run.profile_steps.
absl::StatusOr<ProfileWindow> ParseProfileWindow(const std::string& spec);

// Operators that read a tensor's value on the host (a device synchronisation
// on CUDA).
bool IsHostSyncOperator(const std::string& name);

// Operators whose CPU kernel reads a value on the host where their CUDA
// kernel does not (ATen's fused Adam reads each step count): reads inside
// them are listed apart in ops.tsv and not counted as synchronisations.
bool IsCpuOnlyHostRead(const std::string& name);

// The operators fn() dispatches, counted with libtorch's profiler on every
// thread (nested calls included, as torch.profiler lists them): aten:: calls
// in all and by name. What a GPU step launches scales with this count.
struct OperatorCount {
  int64_t aten = 0;
  std::map<std::string, int64_t> by_name;
};
OperatorCount CountOperators(const std::function<void()>& fn);

class StepProfiler {
 public:
  StepProfiler(ProfileWindow window, std::string out_dir, bool cuda);
  ~StepProfiler();
  // Starts the profiler when `iteration` is the window's first micro-batch.
  void Before(int64_t iteration);
  // Stops it after the window's last micro-batch and writes the files.
  absl::Status After(int64_t iteration);

 private:
  ProfileWindow window_;
  std::string out_dir_;
  bool cuda_;
  bool active_ = false;
  uint64_t thread_id_ = 0;  // the training thread's RecordFunction id
};

}  // namespace chexworld

#endif  // CHEXWORLD_TRAIN_STEP_PROFILER_H_
