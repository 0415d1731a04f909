#include "chexworld/train/preemption.h"

#include <signal.h>
#include <string.h>

#include <atomic>

#include "absl/strings/cord.h"
#include "chexworld/core/failpoints.h"

namespace chexworld {
namespace {

constexpr char kPreemptedUrl[] = "type.chexworld/preempted";
constexpr int kSignals[] = {SIGTERM, SIGUSR1};

std::atomic<int> g_signal{0};

void OnSignal(int sig) {
  if (g_signal.load() != 0) {
    // Asked twice: end now (default action).
    signal(sig, SIG_DFL);
    raise(sig);
    return;
  }
  g_signal.store(sig);
}

bool Requested() { return g_signal.load() != 0; }

struct sigaction g_previous[2];

}  // namespace

PreemptionWatch::PreemptionWatch() {
  g_signal.store(0);
  for (int i = 0; i < 2; ++i) {
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = &OnSignal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(kSignals[i], &sa, &g_previous[i]);
  }
  SetFailpointStopPredicate(&chexworld::Requested);
}

PreemptionWatch::~PreemptionWatch() {
  for (int i = 0; i < 2; ++i) sigaction(kSignals[i], &g_previous[i], nullptr);
}

bool PreemptionWatch::Requested() { return chexworld::Requested(); }
int PreemptionWatch::Signal() { return g_signal.load(); }
std::string PreemptionWatch::SignalName() {
  switch (g_signal.load()) {
    case SIGTERM:
      return "SIGTERM";
    case SIGUSR1:
      return "SIGUSR1";
    case 0:
      return "";
    default:
      return "signal " + std::to_string(g_signal.load());
  }
}

absl::Status PreemptedError(const std::string& message) {
  absl::Status s = absl::UnavailableError(message);
  s.SetPayload(kPreemptedUrl, absl::Cord("1"));
  return s;
}

bool IsPreempted(const absl::Status& status) { return status.GetPayload(kPreemptedUrl).has_value(); }

int ExitCodeFor(const absl::Status& status) {
  if (status.ok()) return 0;
  return IsPreempted(status) ? kExitPreempted : 1;
}

}  // namespace chexworld
