// Fail points: named places in the training path where a test can make the
// process die, stop or fail exactly there, instead of guessing with a timer.
//
//   CHEXWORLD_FAILPOINTS="step:7=kill,checkpoint_tmp:2=kill@1"
//
// Each entry is `point:N=action[@rank]`: the N-th time (1-based, counted in
// this process) that `point` is reached, do `action`; `@rank` restricts it to
// the data-parallel rank of that number. Actions:
//   kill    raise SIGKILL (what `kill -9`, the OOM killer or a lost node does)
//   term    raise SIGTERM (a cluster's preemption notice), then carry on
//   usr1    raise SIGUSR1
//   hold    log "failpoint <point>:<N> holding" and wait until the process is
//           asked to stop (SIGTERM/SIGUSR1) or killed; a test sends the signal
//           after reading that line from the run's log
//   enospc  make the file written at that point fail as a full disk would
//           (checkpoint_write: the N-th checkpoint file)
// Points: startup (the trainer starts), resumed (a checkpoint was loaded),
// step (a micro-batch's forward and backward are done, before the optimizer
// step), checkpoint_write (a checkpoint file is created), checkpoint_tmp (its
// temporary is complete, not yet renamed), checkpoint (renamed into place,
// older ones not yet pruned), metrics_row (half a metrics row is written and
// flushed), rendezvous (before joining the process group), collective
// (before an all-reduce).
//
// Unset (the normal case) costs one relaxed load per call. Torch-free.
#ifndef CHEXWORLD_CORE_FAILPOINTS_H_
#define CHEXWORLD_CORE_FAILPOINTS_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace chexworld {

// Parses CHEXWORLD_FAILPOINTS once; InvalidArgument naming the entry when it
// is malformed (the runner checks it before any work).
absl::Status CheckFailpointSpec();
// The same check on any spec text.
absl::Status ValidateFailpointSpec(absl::string_view spec);

// This process's data-parallel rank, for `@rank` filters (default 0).
void SetFailpointRank(int rank);

// Reaches `point`: counts the hit and runs a matching action. Returns
// ResourceExhausted ("No space left on device", naming `what`) for an enospc
// action; OK otherwise (kill does not return).
absl::Status Failpoint(const char* point, const std::string& what = "");

// Whether CHEXWORLD_FAILPOINTS names any point (to skip work done only for them).
bool FailpointArmed();

// The stop predicate a `hold` action waits on (set by the preemption handler).
void SetFailpointStopPredicate(bool (*stop_requested)());

}  // namespace chexworld

#endif  // CHEXWORLD_CORE_FAILPOINTS_H_
