#include "chexworld/train/step_profiler.h"

#include <algorithm>
#include <fstream>
#include <map>
#include <set>
#include <utility>
#include <vector>

#include <glog/logging.h>
#include <torch/csrc/autograd/profiler_kineto.h>
#include <torch/torch.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "chexworld/core/paths.h"
#include "chexworld/core/status_macros.h"

namespace chexworld {
namespace {

namespace prof = torch::autograd::profiler;

constexpr char kInsideCpuFusedKernel[] = " (inside the CPU fused Adam kernel: none on CUDA)";
using torch::profiler::impl::ActivityType;
using torch::profiler::impl::ProfilerConfig;
using torch::profiler::impl::ProfilerState;

std::string JsonEscape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (static_cast<unsigned char>(c) < 0x20) continue;
    out += c;
  }
  return out;
}

// The Chrome trace of the events, for libtorch builds without Kineto (whose
// ProfilerResult::save cannot write one).
absl::Status WriteChromeTrace(const std::vector<prof::KinetoEvent>& events, const std::string& path) {
  std::string json = "{\"traceEvents\":[\n";
  bool first = true;
  for (const auto& e : events) {
    const bool device = e.deviceType() != c10::DeviceType::CPU;
    absl::StrAppend(&json, first ? "" : ",\n", "{\"name\":\"", JsonEscape(e.name()), "\",\"ph\":\"X\",\"cat\":\"",
                    device ? "kernel" : "cpu_op", "\",\"ts\":", e.startNs() / 1000.0, ",\"dur\":", e.durationNs() / 1000.0,
                    ",\"pid\":", device ? 1 : 0, ",\"tid\":", device ? e.deviceResourceId() : e.startThreadId(), "}");
    first = false;
  }
  json += "\n]}\n";
  return WriteFileAtomically(path, json);
}

int64_t FileSize(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  return in ? static_cast<int64_t>(in.tellg()) : -1;
}

}  // namespace

absl::StatusOr<ProfileWindow> ParseProfileWindow(const std::string& spec) {
  ProfileWindow w;
  if (spec.empty()) return w;
  std::vector<std::string> parts = absl::StrSplit(spec, ':');
  if (parts.size() != 2 || !absl::SimpleAtoi(parts[0], &w.begin) || !absl::SimpleAtoi(parts[1], &w.end) ||
      w.begin < 0 || w.end <= w.begin) {
    return absl::InvalidArgumentError(absl::StrCat(
        "run.profile_steps = \"", spec, "\": expected \"a:b\", micro-batches a (first profiled) to b (excluded), 0 <= a < b"));
  }
  return w;
}

bool IsHostSyncOperator(const std::string& name) {
  return name == "aten::item" || name == "aten::_local_scalar_dense";
}

bool IsCpuOnlyHostRead(const std::string& name) {
  return name == "aten::_fused_adam_" || name == "aten::_fused_adamw_";
}

OperatorCount CountOperators(const std::function<void()>& fn) {
  const std::set<ActivityType> activities = {ActivityType::CPU};
  const ProfilerConfig config(ProfilerState::KINETO, /*report_input_shapes=*/false, /*profile_memory=*/false);
  prof::prepareProfiler(config, activities);
  prof::enableProfiler(config, activities);
  fn();
  std::unique_ptr<prof::ProfilerResult> result = prof::disableProfiler();
  OperatorCount count;
  for (const auto& e : result->events()) {
    if (e.deviceType() != c10::DeviceType::CPU || e.name().rfind("aten::", 0) != 0) continue;
    ++count.aten;
    ++count.by_name[e.name()];
  }
  return count;
}

StepProfiler::StepProfiler(ProfileWindow window, std::string out_dir, bool cuda)
    : window_(window), out_dir_(std::move(out_dir)), cuda_(cuda) {}

StepProfiler::~StepProfiler() {
  if (active_) prof::disableProfiler();
}

void StepProfiler::Before(int64_t iteration) {
  if (!window_.enabled() || active_ || iteration != window_.begin) return;
  std::set<ActivityType> activities = {ActivityType::CPU};
  if (cuda_) activities.insert(ActivityType::CUDA);
  const ProfilerConfig config(ProfilerState::KINETO, /*report_input_shapes=*/false, /*profile_memory=*/false);
  prof::prepareProfiler(config, activities);
  prof::enableProfiler(config, activities);
  thread_id_ = at::RecordFunction::currentThreadId();
  active_ = true;
  LOG(INFO) << "profiling micro-batches " << window_.begin << " to " << window_.end - 1 << " (run.profile_steps)";
}

absl::Status StepProfiler::After(int64_t iteration) {
  if (!active_ || iteration + 1 < window_.end) return absl::OkStatus();
  if (cuda_) torch::cuda::synchronize();
  std::unique_ptr<prof::ProfilerResult> result = prof::disableProfiler();
  active_ = false;
  RETURN_IF_ERROR(MakeDirectories(out_dir_));
  const std::string trace = out_dir_ + "/trace.json";
  bool saved = false;
  try {
    result->save(trace);  // Kineto's own trace, with CUDA kernels and memory
    saved = FileSize(trace) > 0;
  } catch (const std::exception&) {
  }
  if (!saved) RETURN_IF_ERROR(WriteChromeTrace(result->events(), trace));
  // Operators of the training thread: calls and total time.
  std::map<std::string, std::pair<int64_t, uint64_t>> ops;
  int64_t syncs = 0;
  // ATen's fused Adam reads each tensor's step count with item() in its CPU
  // kernel (its CUDA kernel reads it on the device): those reads are not host
  // synchronisations of the step, and are listed under their own name.
  std::vector<std::pair<int64_t, int64_t>> cpu_fused;
  for (const auto& e : result->events()) {
    if (e.deviceType() == c10::DeviceType::CPU && e.startThreadId() == thread_id_ && IsCpuOnlyHostRead(e.name())) {
      cpu_fused.emplace_back(e.startNs(), e.startNs() + e.durationNs());
    }
  }
  auto inside_fused = [&](const prof::KinetoEvent& e) {
    for (const auto& [begin, end] : cpu_fused) {
      if (e.startNs() >= begin && e.startNs() + e.durationNs() <= end) return true;
    }
    return false;
  };
  for (const auto& e : result->events()) {
    if (e.deviceType() != c10::DeviceType::CPU || e.startThreadId() != thread_id_) continue;
    std::string name = e.name();
    if (IsHostSyncOperator(name) && inside_fused(e)) name += kInsideCpuFusedKernel;
    auto& [calls, us] = ops[name];
    ++calls;
    us += e.durationNs() / 1000;
    if (name == "aten::_local_scalar_dense") ++syncs;  // aten::item calls it: count one
  }
  std::vector<std::pair<std::string, std::pair<int64_t, uint64_t>>> rows(ops.begin(), ops.end());
  std::stable_sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) {
    const bool sa = IsHostSyncOperator(a.first), sb = IsHostSyncOperator(b.first);
    if (sa != sb) return sa;
    return a.second.second > b.second.second;
  });
  std::string tsv = "operator\tcalls\ttotal_us\thost_sync\n";
  for (const auto& [name, v] : rows) {
    absl::StrAppend(&tsv, name, "\t", v.first, "\t", v.second, "\t", IsHostSyncOperator(name) ? 1 : 0, "\n");
  }
  RETURN_IF_ERROR(WriteFileAtomically(out_dir_ + "/ops.tsv", tsv));
  LOG(INFO) << "profile of micro-batches " << window_.begin << " to " << window_.end - 1 << ": " << trace << " and "
            << out_dir_ << "/ops.tsv; " << syncs << " host synchronisation(s) on the training thread";
  return absl::OkStatus();
}

}  // namespace chexworld
