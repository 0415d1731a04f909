#include "chexworld/core/failpoints.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace chexworld {
namespace {

enum class Action { kKill, kTerm, kUsr1, kHold, kEnospc };

struct Entry {
  std::string point;
  int64_t hit = 0;
  Action action = Action::kKill;
  int rank = -1;  // any
};

struct State {
  std::mutex mu;
  absl::Status parse_status;
  std::vector<Entry> entries;
  std::map<std::string, int64_t> hits;
};

constexpr const char* kPoints[] = {"startup",    "resumed",          "step",        "checkpoint_tmp",
                                   "checkpoint", "checkpoint_write", "metrics_row", "rendezvous",
                                   "collective"};

std::atomic<int> g_rank{0};
std::atomic<bool (*)()> g_stop{nullptr};
std::atomic<bool> g_active{false};

absl::StatusOr<Entry> ParseEntry(absl::string_view text) {
  const std::string where = absl::StrCat("CHEXWORLD_FAILPOINTS entry '", text, "'");
  std::vector<absl::string_view> lhs_rhs = absl::StrSplit(text, absl::MaxSplits('=', 1));
  if (lhs_rhs.size() != 2) return absl::InvalidArgumentError(absl::StrCat(where, ": expected point:N=action[@rank]"));
  std::vector<absl::string_view> point_hit = absl::StrSplit(lhs_rhs[0], absl::MaxSplits(':', 1));
  Entry e;
  e.point = std::string(absl::StripAsciiWhitespace(point_hit[0]));
  bool known = false;
  for (const char* p : kPoints) known |= e.point == p;
  if (!known) {
    std::string all;
    for (const char* p : kPoints) absl::StrAppend(&all, all.empty() ? "" : ", ", p);
    return absl::InvalidArgumentError(absl::StrCat(where, ": unknown point '", e.point, "' (points: ", all, ")"));
  }
  if (point_hit.size() != 2 || !absl::SimpleAtoi(point_hit[1], &e.hit) || e.hit < 1) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": the hit count after ':' must be an integer >= 1"));
  }
  std::vector<absl::string_view> action_rank = absl::StrSplit(lhs_rhs[1], absl::MaxSplits('@', 1));
  const absl::string_view a = absl::StripAsciiWhitespace(action_rank[0]);
  if (a == "kill") e.action = Action::kKill;
  else if (a == "term") e.action = Action::kTerm;
  else if (a == "usr1") e.action = Action::kUsr1;
  else if (a == "hold") e.action = Action::kHold;
  else if (a == "enospc") e.action = Action::kEnospc;
  else return absl::InvalidArgumentError(absl::StrCat(where, ": unknown action '", a, "' (kill, term, usr1, hold, enospc)"));
  if (action_rank.size() == 2 && (!absl::SimpleAtoi(action_rank[1], &e.rank) || e.rank < 0)) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": the rank after '@' must be an integer >= 0"));
  }
  return e;
}

absl::Status ParseSpec(absl::string_view spec, std::vector<Entry>* out) {
  for (absl::string_view part : absl::StrSplit(spec, ',', absl::SkipWhitespace())) {
    auto e = ParseEntry(absl::StripAsciiWhitespace(part));
    if (!e.ok()) return e.status();
    out->push_back(*e);
  }
  return absl::OkStatus();
}

State& GetState() {
  static State* state = [] {
    auto* s = new State();
    const char* spec = std::getenv("CHEXWORLD_FAILPOINTS");
    if (spec == nullptr || *spec == '\0') return s;
    s->parse_status = ParseSpec(spec, &s->entries);
    if (!s->parse_status.ok()) s->entries.clear();
    g_active.store(!s->entries.empty());
    return s;
  }();
  return *state;
}

}  // namespace

absl::Status CheckFailpointSpec() { return GetState().parse_status; }

absl::Status ValidateFailpointSpec(absl::string_view spec) {
  std::vector<Entry> entries;
  return ParseSpec(spec, &entries);
}

bool FailpointArmed() {
  GetState();
  return g_active.load(std::memory_order_relaxed);
}

void SetFailpointRank(int rank) { g_rank.store(rank); }

void SetFailpointStopPredicate(bool (*stop_requested)()) { g_stop.store(stop_requested); }

absl::Status Failpoint(const char* point, const std::string& what) {
  State& s = GetState();
  if (!g_active.load(std::memory_order_relaxed)) return absl::OkStatus();
  Action action;
  int64_t hit;
  {
    std::lock_guard<std::mutex> lock(s.mu);
    hit = ++s.hits[point];
    const Entry* match = nullptr;
    for (const Entry& e : s.entries) {
      if (e.point == point && e.hit == hit && (e.rank < 0 || e.rank == g_rank.load())) match = &e;
    }
    if (match == nullptr) return absl::OkStatus();
    action = match->action;
  }
  std::fprintf(stderr, "failpoint %s:%lld (rank %d) fires\n", point, static_cast<long long>(hit), g_rank.load());
  std::fflush(stderr);
  switch (action) {
    case Action::kKill:
      raise(SIGKILL);
      break;
    case Action::kTerm:
      raise(SIGTERM);
      break;
    case Action::kUsr1:
      raise(SIGUSR1);
      break;
    case Action::kHold: {
      std::fprintf(stderr, "failpoint %s:%lld holding\n", point, static_cast<long long>(hit));
      std::fflush(stderr);
      while (true) {
        auto stop = g_stop.load();
        if (stop != nullptr && stop()) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
      break;
    }
    case Action::kEnospc:
      return absl::ResourceExhaustedError(absl::StrCat(what.empty() ? point : what, ": No space left on device (",
                                                       "failpoint ", point, ":", hit, ")"));
  }
  return absl::OkStatus();
}

}  // namespace chexworld
