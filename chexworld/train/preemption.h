// Preemption: clusters announce the end of a job with a signal (SIGTERM from
// SLURM's scancel and time limit, or the signal chosen with
// `sbatch --signal=USR1@120`; torchrun forwards SIGTERM to its workers).
//
// While a PreemptionWatch is alive, SIGTERM and SIGUSR1 only set a flag: the
// trainer finishes the optimizer step in progress, writes a checkpoint, logs
// its path and returns a Preempted status, and the binaries exit with
// kExitPreempted. `--resume` then continues bit-exactly. A second signal
// while stopping takes the default action (the process ends at once). Outside
// a watch the signals keep their default action. Torch-free.
#ifndef CHEXWORLD_TRAIN_PREEMPTION_H_
#define CHEXWORLD_TRAIN_PREEMPTION_H_

#include <string>

#include "absl/status/status.h"

namespace chexworld {

// Exit status of a run stopped by a preemption signal after writing its
// checkpoint (75 = EX_TEMPFAIL, "try again": resume it).
inline constexpr int kExitPreempted = 75;

class PreemptionWatch {
 public:
  PreemptionWatch();   // installs the handlers
  ~PreemptionWatch();  // restores the previous ones
  PreemptionWatch(const PreemptionWatch&) = delete;
  PreemptionWatch& operator=(const PreemptionWatch&) = delete;

  // A stop signal arrived (since the watch was installed).
  static bool Requested();
  // Its number (0 if none) and name ("SIGTERM").
  static int Signal();
  static std::string SignalName();
};

// The status a preempted run returns (Unavailable, with a payload that
// IsPreempted recognises through AddContext on the way up).
absl::Status PreemptedError(const std::string& message);
bool IsPreempted(const absl::Status& status);

// The exit status for a run's final status: 0, kExitPreempted, or 1.
int ExitCodeFor(const absl::Status& status);

}  // namespace chexworld

#endif  // CHEXWORLD_TRAIN_PREEMPTION_H_
