#include "chexworld/train/step_log.h"

#include <algorithm>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "chexworld/core/failpoints.h"
#include "chexworld/core/paths.h"
#include "chexworld/core/status_macros.h"

namespace chexworld {
namespace {

constexpr double kGib = 1073741824.0;

// A memory figure in GiB, or "n/a" where it does not apply (-1: not CUDA).
std::string Gib(int64_t bytes) { return bytes < 0 ? "n/a" : absl::StrFormat("%.3f", bytes / kGib); }

// The complete rows of an earlier metrics.csv before `iteration`, and the
// run's first loss (column 4) if they hold it.
std::string KeptRows(const std::string& old, int64_t iteration, std::optional<double>* first_loss) {
  const size_t end = old.rfind('\n');
  const absl::string_view complete =
      end == std::string::npos ? absl::string_view() : absl::string_view(old).substr(0, end + 1);
  std::string kept;
  size_t fields = 0;
  for (absl::string_view line : absl::StrSplit(complete, '\n', absl::SkipEmpty())) {
    const size_t n = std::count(line.begin(), line.end(), ',') + 1;
    if (line.rfind("iteration", 0) == 0) {
      fields = n;
      kept += std::string(line) + "\n";
      continue;
    }
    int64_t it = 0;
    if (n != fields || !absl::SimpleAtoi(line.substr(0, line.find(',')), &it) || it >= iteration) continue;
    kept += std::string(line) + "\n";
    std::vector<absl::string_view> cells = absl::StrSplit(line, ',');
    double first = 0;
    if (!first_loss->has_value() && cells.size() > 3 && absl::SimpleAtod(cells[3], &first)) *first_loss = first;
  }
  return kept;
}

}  // namespace

absl::StatusOr<std::unique_ptr<StepLog>> StepLog::Open(const std::string& metrics_path, const std::string& events_dir,
                                                       int64_t resume_iteration, torch::Device device) {
  std::unique_ptr<StepLog> log(new StepLog(device));
  log->metrics_path_ = metrics_path;
  std::string kept;
  if (resume_iteration > 0) {
    auto old = ReadFile(metrics_path);
    if (old.ok()) kept = KeptRows(*old, resume_iteration, &log->resumed_first_loss_);
  }
  RETURN_IF_ERROR(WriteFileAtomically(metrics_path, kept));
  log->header_written_ = !kept.empty();
  log->metrics_.open(metrics_path, std::ios::app);
  if (!log->metrics_) return absl::UnavailableError(absl::StrCat("cannot append to ", metrics_path));
  ASSIGN_OR_RETURN(log->events_, EventWriter::Create(events_dir));
  return log;
}

void StepLog::Add(const StepFacts& facts, const ObjectiveOutput& out, const torch::Tensor& grad_norm) {
  torch::NoGradGuard no_grad;
  if (term_names_.empty()) {
    for (const auto& [k, v] : out.terms) term_names_.push_back(k);
  }
  if (!nan_.defined()) nan_ = torch::full({}, std::nan(""), torch::TensorOptions().device(device_));
  auto f32 = [&](const torch::Tensor& t) { return t.defined() ? t.detach().to(torch::kFloat32).reshape({}) : nan_; };
  std::vector<torch::Tensor> values = {f32(out.loss)};
  for (const auto& name : term_names_) {
    auto it = out.terms.find(name);
    values.push_back(it == out.terms.end() ? nan_ : f32(it->second));
  }
  values.push_back(f32(out.pred_std));
  values.push_back(f32(out.target_std));
  values.push_back(f32(grad_norm));
  device_rows_.push_back(torch::stack(values));
  facts_.push_back(facts);
}

absl::StatusOr<std::vector<StepRow>> StepLog::Drain(Communicator& communicator, bool stop_requested, bool* stop,
                                                    const CudaMemory& memory) {
  torch::NoGradGuard no_grad;
  *stop = stop_requested;
  std::vector<StepRow> rows;
  if (facts_.empty() && communicator.world_size() == 1) return rows;
  torch::Tensor packed;
  const int64_t width = static_cast<int64_t>(term_names_.size()) + 4;
  if (communicator.world_size() > 1) {
    // One all-reduce: the rows (K values each) and this rank's stop request.
    auto flag = torch::full({1}, stop_requested ? 1.0f : 0.0f, torch::TensorOptions().device(device_));
    packed = device_rows_.empty() ? flag : torch::cat({torch::stack(device_rows_).reshape({-1}), flag});
    RETURN_IF_ERROR(communicator.AllReduceMean({packed}, "logged loss terms and stop requests",
                                               {"rows of loss, terms, monitors, grad norm; then the stop flag"}));
  } else {
    packed = torch::stack(device_rows_).reshape({-1});
  }
  // The one device -> host transfer of the window.
  const torch::Tensor host = packed.to(torch::kCPU, torch::kFloat64).contiguous();
  const double* v = host.data_ptr<double>();
  if (communicator.world_size() > 1 && v[host.numel() - 1] > 0) *stop = true;
  for (size_t r = 0; r < facts_.size(); ++r) {
    const double* x = v + r * width;
    StepRow row;
    row.facts = facts_[r];
    row.loss = x[0];
    for (size_t k = 0; k < term_names_.size(); ++k) row.terms[term_names_[k]] = x[1 + k];
    row.pred_std = x[width - 3];
    row.target_std = x[width - 2];
    row.grad_norm = x[width - 1];
    row.memory = memory;
    rows.push_back(std::move(row));
  }
  facts_.clear();
  device_rows_.clear();
  RETURN_IF_ERROR(WriteRows(rows));
  return rows;
}

absl::Status StepLog::WriteRows(const std::vector<StepRow>& rows) {
  for (const StepRow& r : rows) {
    const StepFacts& f = r.facts;
    if (!header_written_) {
      metrics_ << "iteration,epoch,step,loss";
      for (const auto& k : term_names_) metrics_ << "," << k;
      metrics_ << ",lr,weight_decay,ema,grad_norm,pred_std,target_std,images_per_s,elapsed_s,data_wait_s,tflops,"
                  "cuda_peak_allocated_gib,cuda_peak_reserved_gib,cuda_in_use_gib\n";
      header_written_ = true;
    }
    std::ostringstream row;
    row << f.iteration << "," << f.epoch << "," << f.steps << "," << r.loss;
    for (const auto& k : term_names_) row << "," << r.terms.at(k);
    row << "," << f.lr << "," << f.weight_decay << "," << f.ema << "," << r.grad_norm << "," << r.pred_std << ","
        << r.target_std << "," << f.images_per_s << "," << f.elapsed_s << "," << f.data_wait_s << "," << f.tflops << ","
        << Gib(r.memory.peak_allocated) << "," << Gib(r.memory.peak_reserved) << "," << Gib(r.memory.in_use) << "\n";
    const std::string text = row.str();
    const size_t half = text.size() / 2;
    metrics_ << text.substr(0, half);
    if (FailpointArmed()) {
      metrics_.flush();  // as a kill between two buffer flushes leaves it
      RETURN_IF_ERROR(Failpoint("metrics_row"));
    }
    metrics_ << text.substr(half);
    std::map<std::string, double> scalars = {
        {"loss/total", r.loss},          {"schedule/lr", f.lr},           {"schedule/weight_decay", f.weight_decay},
        {"monitor/pred_std", r.pred_std}, {"monitor/target_std", r.target_std},
        {"speed/images_per_s", f.images_per_s}, {"speed/data_wait_s", f.data_wait_s}, {"speed/tflops", f.tflops}};
    if (r.memory.peak_allocated >= 0) scalars["memory/cuda_peak_allocated_gib"] = r.memory.peak_allocated / kGib;
    if (r.memory.peak_reserved >= 0) scalars["memory/cuda_peak_reserved_gib"] = r.memory.peak_reserved / kGib;
    if (r.memory.in_use >= 0) scalars["memory/cuda_in_use_gib"] = r.memory.in_use / kGib;
    for (const auto& [k, v] : r.terms) scalars["loss/" + k] = v;
    if (!std::isnan(f.ema)) scalars["schedule/ema"] = f.ema;
    if (!std::isnan(r.grad_norm)) scalars["monitor/grad_norm"] = r.grad_norm;
    events_->AddScalars(f.iteration, scalars);
  }
  return absl::OkStatus();
}

void StepLog::Flush() {
  metrics_.flush();
  events_->Flush();
}

}  // namespace chexworld
