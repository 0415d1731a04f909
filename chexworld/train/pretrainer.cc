#include "chexworld/train/pretrainer.h"

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>

#include <glog/logging.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "chexworld/core/failpoints.h"
#include "chexworld/core/status_macros.h"
#include "chexworld/models/checkpoint/state_dict.h"
#include "chexworld/models/ema.h"
#include "chexworld/train/flops.h"
#include "chexworld/train/grad_clip.h"
#include "chexworld/train/graphed_step.h"
#include "chexworld/train/preemption.h"
#include "chexworld/train/runtime.h"
#include "chexworld/train/sharded_step.h"
#include "chexworld/train/step_log.h"
#include "chexworld/train/step_profiler.h"

namespace chexworld {

// Everything one call of RunLoop carries from phase to phase.
struct LoopState {
  // The plan.
  int accum = 1;
  int64_t per_epoch = 0, epochs = 1, total = 0;
  int log_every = 10;
  int64_t batch_size = 0;
  std::vector<torch::Tensor> params;
  // Where the run stands.
  int64_t epoch = 0, batch = 0, iteration = 0, steps = 0;
  bool at_step = false;          // the last micro-batch ended an optimizer step
  bool stop_requested = false;   // this process saw SIGTERM / SIGUSR1
  bool stop_agreed = false;      // every rank knows (world size 1: at once)
  int64_t saved_at = -1;         // micro-batch of the last checkpoint this run wrote
  // This process's part.
  int64_t done_this_run = 0;
  bool first_row_read = false;
  std::chrono::steady_clock::time_point start;
  int collapsed_for = 0;
  bool warned_collapse = false;
  double model_flops = 0;  // of this process's micro-batches (METHOD 9.1)
  double data_wait_seconds = 0;
  CudaMemory peak_memory;  // the largest figures read in this segment
  PretrainSummary summary;
  std::unique_ptr<StepLog> log;
  std::unique_ptr<ShardedStep> step;
  std::unique_ptr<StepProfiler> profiler;
  std::unique_ptr<DeviceCopier> copier;  // host batches to the device (a side stream on CUDA)
  std::unique_ptr<EmaUpdater> ema;       // made after a resume has loaded the networks
  std::unique_ptr<GraphedStep> graphed;  // trainer.cuda_graph
};

namespace {

std::string FormatDuration(double seconds) {
  const int64_t s = static_cast<int64_t>(seconds);
  return absl::StrFormat("%d:%02d:%02d", s / 3600, (s / 60) % 60, s % 60);
}

double PeakHostRssMiB() {
  struct rusage u {};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss / 1024.0;
}

}  // namespace

Pretrainer::Pretrainer(ExperimentConfig config, std::string run_dir, PretrainComponents components,
                       torch::Device device)
    : config_(std::move(config)), run_dir_(std::move(run_dir)), c_(std::move(components)), device_(device) {}

absl::StatusOr<PretrainSummary> Pretrainer::Run(bool resume) {
  // SIGTERM / SIGUSR1 during training: finish the step, checkpoint, stop.
  PreemptionWatch preemption;
  // libtorch reports numerical and shape failures by exception: turn them into
  // an error naming where training stopped and what can be resumed.
  try {
    return RunLoop(resume);
  } catch (const std::exception& e) {
    const std::string latest = LatestCheckpoint(run_dir_ + "/checkpoints");
    return absl::InternalError(absl::StrCat("training stopped by a libtorch error: ",
                                            std::string(e.what()).substr(0, 400), "; last good checkpoint: ",
                                            latest.empty() ? "(none)" : latest));
  }
}

absl::StatusOr<PretrainSummary> Pretrainer::RunLoop(bool resume) {
  LoopState s;
  RETURN_IF_ERROR(Prepare(resume, s));
  while (s.iteration < s.total && s.epoch < s.epochs) {
    c_.loader->Start(s.epoch, s.batch);
    while (s.iteration < s.total) {
      ASSIGN_OR_RETURN(bool trained, TrainMicroBatch(s));
      if (!trained) break;
      const bool due = s.iteration % s.log_every == 0 || s.iteration == s.total;
      if (due) RETURN_IF_ERROR(ReadStatistics(s));
      RETURN_IF_ERROR(CheckpointIfDue(s));
      RETURN_IF_ERROR(StopIfPreempted(s));
    }
    if (c_.loader->position() >= s.per_epoch) {
      ++s.epoch;
      s.batch = 0;
    } else {
      s.batch = c_.loader->position();
    }
  }
  return Finish(s);
}

absl::Status Pretrainer::Prepare(bool resume, LoopState& s) {
  const TrainerConfig& tc = config_.trainer();
  s.accum = std::max(1, tc.accum_iter());
  s.per_epoch = c_.loader->batches_per_epoch();
  s.epochs = std::max(1, tc.epochs());
  s.total = s.epochs * s.per_epoch;
  if (tc.max_steps() > 0) s.total = std::min<int64_t>(s.total, tc.max_steps());
  s.log_every = tc.log_every() > 0 ? tc.log_every() : 10;
  s.batch_size = config_.data().batch_size();
  for (const auto& p : c_.encoder->parameters()) {
    if (p.requires_grad()) s.params.push_back(p);
  }
  for (const auto& p : c_.predictor->parameters()) {
    if (p.requires_grad()) s.params.push_back(p);
  }
  RETURN_IF_ERROR(Failpoint("startup"));
  if (resume) {
    RETURN_IF_ERROR(ResumeLatestGood(&s.epoch, &s.batch, &s.iteration, &s.steps, &s.summary.last_checkpoint));
  }
  ASSIGN_OR_RETURN(s.ema, EmaUpdater::Create(*c_.target, *c_.encoder));
  const int rank = c_.communicator->rank();
  const bool writer = rank == 0;
  ASSIGN_OR_RETURN(s.log, StepLog::Open(writer ? run_dir_ + "/metrics.csv" : absl::StrCat(run_dir_, "/.rank", rank, "_metrics.csv"),
                                        writer ? run_dir_ + "/tensorboard" : absl::StrCat(run_dir_, "/.rank", rank, "_tensorboard"),
                                        resume ? s.iteration : 0, device_));
  ASSIGN_OR_RETURN(ProfileWindow window, ParseProfileWindow(config_.run().profile_steps()));
  if (!writer) window = ProfileWindow();
  s.profiler = std::make_unique<StepProfiler>(window, run_dir_ + "/profile", device_.is_cuda());
  s.copier = std::make_unique<DeviceCopier>(device_);
  ResetCudaPeaks(device_);

  c_.encoder->train();
  c_.predictor->train();
  c_.target->train();
  ClearGradients(s.params);
  const int shards = std::max(1, tc.concurrent_shards());
  const int threads_per_shard = std::max(1, torch::get_num_threads() / shards);
  s.step = std::make_unique<ShardedStep>(shards, threads_per_shard, device_, tc.precision() == TrainerConfig::BF16);
  if (shards > 1) {
    LOG(INFO) << "each micro-batch runs as " << shards << " concurrent shards of " << s.batch_size / shards
              << " images, " << threads_per_shard << " torch thread(s) each";
    if (shards > torch::get_num_threads()) {
      LOG(WARNING) << "trainer.concurrent_shards = " << shards << " exceeds the " << torch::get_num_threads()
                   << " torch thread(s) of this process (run.threads): the shards share cores, which is slower "
                      "than one pass; with one rank per core set trainer.concurrent_shards=1";
    }
  }
  if (tc.cuda_graph()) {
    // One process, one shard, accum 1 (checked with the config): the step is
    // the whole optimizer step.
    s.graphed = std::make_unique<GraphedStep>(device_, [this, &s](const WorldModelBatch& b) {
      ObjectiveOutput out =
          s.step->ForwardBackward(*c_.objective, *c_.encoder, *c_.target, *c_.predictor, b, s.params, 1.0);
      return std::make_pair(out, UpdateParameters(s).value());
    });
    LOG(INFO) << "trainer.cuda_graph: the step runs eagerly for 3 micro-batches, is then captured in a CUDA graph "
                 "and replayed";
  }
  s.start = std::chrono::steady_clock::now();
  return absl::OkStatus();
}

double Pretrainer::MicroBatchFlops(const WorldModelBatch& b) const {
  StepShape shape;
  shape.tokens = (b.image1.size(2) / c_.encoder->patch_size()) * (b.image1.size(3) / c_.encoder->patch_size());
  shape.patch = c_.encoder->patch_size();
  shape.channels = c_.encoder->in_channels();
  shape.enc_dim = c_.encoder->embed_dim();
  shape.enc_depth = c_.encoder->depth();
  shape.pred_dim = c_.predictor->embed_dim();
  shape.pred_depth = c_.predictor->depth();
  shape.action_dim = c_.predictor->action_dim();
  shape.context = b.masks_enc1.size(1);
  shape.target = b.masks_pred1.size(1);
  const Objective::Passes passes = c_.objective->passes();
  shape.target_passes = passes.target;
  shape.context_passes = passes.context;
  shape.predictor_passes = passes.predictor;
  return StepFlopsPerImage(shape);
}

absl::StatusOr<torch::Tensor> Pretrainer::UpdateParameters(LoopState& s) {
  if (c_.communicator->world_size() > 1) {
    std::vector<torch::Tensor> grads;
    for (const auto& p : s.params) {
      if (p.grad().defined()) grads.push_back(p.grad());
    }
    RETURN_IF_ERROR(c_.communicator->AllReduceMean(grads, "gradients"));
  }
  torch::Tensor norm = ClipGradNorm(s.params, config_.trainer().clip_grad());
  c_.optimizer->Step();
  ClearGradients(s.params);
  s.ema->Apply();  // momentum set by the caller (a device scalar)
  return norm;
}

absl::StatusOr<bool> Pretrainer::TrainMicroBatch(LoopState& s) {
  const auto wait_start = std::chrono::steady_clock::now();
  ASSIGN_OR_RETURN(std::optional<WorldModelBatch> next, c_.loader->Next());
  if (!next.has_value()) return false;
  // Time the step waited for its batch: > 0 means the input pipeline, not the
  // model, sets the pace.
  StepFacts f;
  f.data_wait_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - wait_start).count();
  s.data_wait_seconds += f.data_wait_s;
  const int64_t it = s.epoch * s.per_epoch + c_.loader->position() - 1;
  s.profiler->Before(it);
  f.lr = c_.lr->Value(it);
  f.weight_decay = c_.weight_decay->Value(it);
  c_.optimizer->SetHyperparameters(f.lr, f.weight_decay);
  s.model_flops += MicroBatchFlops(*next) * next->size();  // mask lengths vary by batch
  s.at_step = (it + 1) % s.accum == 0;
  if (s.at_step) {
    f.ema = c_.ema->Value(it);
    s.ema->SetMomentum(f.ema);
  }
  ObjectiveOutput out;
  torch::Tensor grad_norm;
  if (s.graphed) {
    ASSIGN_OR_RETURN(auto step, s.graphed->Run(*next));  // the whole step, replayed
    out = step.first;
    grad_norm = step.second;
    RETURN_IF_ERROR(Failpoint("step"));
  } else {
    WorldModelBatch b = s.copier->ToDevice(*next);
    out = s.step->ForwardBackward(*c_.objective, *c_.encoder, *c_.target, *c_.predictor, b, s.params, 1.0 / s.accum);
    RETURN_IF_ERROR(Failpoint("step"));
    if (s.at_step) {
      ASSIGN_OR_RETURN(grad_norm, UpdateParameters(s));
    }
  }
  if (s.at_step) ++s.steps;
  s.iteration = it + 1;
  ++s.done_this_run;
  f.iteration = it;
  f.epoch = s.epoch;
  f.steps = s.steps;
  f.elapsed_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - s.start).count();
  f.images_per_s = s.done_this_run * s.batch_size / std::max(f.elapsed_s, 1e-9);
  f.tflops = s.model_flops * c_.communicator->world_size() / std::max(f.elapsed_s, 1e-9) / 1e12;
  s.log->Add(f, out, grad_norm);
  RETURN_IF_ERROR(s.profiler->After(it));
  if (PreemptionWatch::Requested()) {
    s.stop_requested = true;
    // One process needs no agreement: stop after this optimizer step.
    if (c_.communicator->world_size() == 1) s.stop_agreed = true;
  }
  return true;
}

RunTotals Pretrainer::Totals(const LoopState& s) const {
  RunTotals t = resumed_;
  t.images += static_cast<double>(s.done_this_run) * s.batch_size;
  t.model_flops += s.model_flops;
  t.train_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - s.start).count();
  t.data_wait_seconds += s.data_wait_seconds;
  t.peak_memory.in_use = std::max(t.peak_memory.in_use, s.peak_memory.in_use);
  t.peak_memory.peak_allocated = std::max(t.peak_memory.peak_allocated, s.peak_memory.peak_allocated);
  t.peak_memory.peak_reserved = std::max(t.peak_memory.peak_reserved, s.peak_memory.peak_reserved);
  return t;
}

absl::Status Pretrainer::ReadStatistics(LoopState& s) {
  RETURN_IF_ERROR(s.ema->CheckIntact());
  bool stop = false;
  const CudaMemory memory = ReadCudaMemory(device_);
  ASSIGN_OR_RETURN(std::vector<StepRow> rows, s.log->Drain(*c_.communicator, s.stop_requested, &stop, memory));
  if (stop) s.stop_agreed = true;
  const TrainerConfig& tc = config_.trainer();
  for (const StepRow& r : rows) {
    const StepFacts& f = r.facts;
    if (!std::isfinite(r.loss)) {
      std::vector<std::string> terms;
      for (const auto& [k, v] : r.terms) terms.push_back(absl::StrCat(k, "=", v));
      s.log->Flush();
      return absl::InternalError(absl::StrCat(
          "non-finite loss ", r.loss, " at micro-batch ", f.iteration, " (epoch ", f.epoch, "); terms: ",
          absl::StrJoin(terms, ", "), "; stopped before the next checkpoint; last good checkpoint: ",
          s.summary.last_checkpoint.empty() ? "(none)" : s.summary.last_checkpoint));
    }
    if (!s.first_row_read) {
      s.summary.first_loss = s.log->resumed_first_loss().value_or(r.loss);
      s.first_row_read = true;
    }
    s.summary.micro_batches = f.iteration + 1;  // of the whole run, resumed parts included
    s.summary.last_loss = r.loss;
    s.summary.last_terms = r.terms;
    // Collapse: predictions that no longer differ between positions, for 100
    // micro-batches in a row after the first epoch (early training dips
    // through the mean token and recovers).
    if (tc.collapse_std_threshold() > 0 && f.epoch > 0 && r.pred_std < tc.collapse_std_threshold()) {
      if (++s.collapsed_for == 100 && !s.warned_collapse) {
        LOG(WARNING) << "possible collapse: for 100 micro-batches up to " << f.iteration
                     << " the predictions' std over tokens stayed below " << tc.collapse_std_threshold() << " (now "
                     << r.pred_std << "; targets " << r.target_std << ")";
        s.warned_collapse = true;
      }
    } else {
      s.collapsed_for = 0;
    }
  }
  // Timing as of now (the device has caught up with the host: the read
  // above), of the whole run: earlier segments' totals included.
  s.peak_memory.in_use = std::max(s.peak_memory.in_use, memory.in_use);
  s.peak_memory.peak_allocated = std::max(s.peak_memory.peak_allocated, memory.peak_allocated);
  s.peak_memory.peak_reserved = std::max(s.peak_memory.peak_reserved, memory.peak_reserved);
  const RunTotals t = Totals(s);
  s.summary.elapsed_seconds = t.train_seconds;
  s.summary.data_wait_seconds = t.data_wait_seconds;
  s.summary.images_per_second = t.images / std::max(t.train_seconds, 1e-9);
  s.summary.model_flops_per_image = t.model_flops / std::max(1.0, t.images);
  s.summary.achieved_tflops = t.model_flops * c_.communicator->world_size() / std::max(t.train_seconds, 1e-9) / 1e12;
  s.summary.peak_memory = t.peak_memory;
  if (s.iteration % s.log_every == 0 || s.iteration == s.total) {
    s.log->Flush();
    if (rows.empty()) return absl::OkStatus();
    const StepRow& r = rows.back();
    std::string terms;
    for (const auto& [k, v] : r.terms) absl::StrAppend(&terms, " ", k, "=", absl::StrFormat("%.4f", v));
    const double eta = (s.total - s.iteration) * s.batch_size / std::max(s.summary.images_per_second, 1e-9);
    LOG(INFO) << absl::StrFormat("[%d/%d] epoch %d loss %.4f%s lr %.3g %.1f img/s %.2f TFLOP/s ETA %s", s.iteration,
                                 s.total, r.facts.epoch, r.loss, terms, r.facts.lr, s.summary.images_per_second,
                                 s.summary.achieved_tflops, FormatDuration(eta));
  }
  return absl::OkStatus();
}

absl::Status Pretrainer::CheckpointIfDue(LoopState& s) {
  const int every = config_.trainer().checkpoint_every();
  if (!s.at_step || every <= 0 || s.steps % every != 0) return absl::OkStatus();
  // The rows up to the checkpoint are read, checked and on disk first.
  RETURN_IF_ERROR(ReadStatistics(s));
  s.log->Flush();
  RETURN_IF_ERROR(SaveCheckpoint(s.epoch, c_.loader->position(), s.iteration, s.steps, Totals(s), &s.summary.last_checkpoint));
  s.saved_at = s.iteration;
  return absl::OkStatus();
}

absl::Status Pretrainer::StopIfPreempted(LoopState& s) {
  if (!s.at_step || !s.stop_agreed || s.iteration >= s.total) return absl::OkStatus();
  // Preempted: the step is complete; make sure it is on disk, then stop.
  RETURN_IF_ERROR(ReadStatistics(s));
  s.log->Flush();
  if (s.saved_at != s.iteration) {
    RETURN_IF_ERROR(SaveCheckpoint(s.epoch, c_.loader->position(), s.iteration, s.steps, Totals(s), &s.summary.last_checkpoint));
  }
  RETURN_IF_ERROR(c_.communicator->Barrier());
  const std::string why =
      PreemptionWatch::SignalName().empty() ? "another rank's stop signal" : PreemptionWatch::SignalName();
  LOG(WARNING) << "preempted by " << why << " after micro-batch " << s.iteration << " (optimizer step " << s.steps
               << "): checkpoint " << s.summary.last_checkpoint << "; continue with --resume --run_dir=" << run_dir_;
  return PreemptedError(absl::StrCat("preempted by ", why, " at micro-batch ", s.iteration, "; checkpoint ",
                                     s.summary.last_checkpoint, " (resume with --resume)"));
}

absl::StatusOr<PretrainSummary> Pretrainer::Finish(LoopState& s) {
  RETURN_IF_ERROR(ReadStatistics(s));
  s.log->Flush();
  s.summary.optimizer_steps = s.steps;
  RETURN_IF_ERROR(SaveCheckpoint(s.epoch, s.batch, s.iteration, s.steps, Totals(s), &s.summary.last_checkpoint));
  // Encoders for downstream use, in the official key layout (torch.load-able).
  if (c_.communicator->rank() == 0) {
    RETURN_IF_ERROR(SaveStateDict(GetStateDict(*c_.target), run_dir_ + "/target_encoder.pt"));
    RETURN_IF_ERROR(SaveStateDict(GetStateDict(*c_.encoder), run_dir_ + "/encoder.pt"));
  }
  RETURN_IF_ERROR(c_.communicator->Barrier());
  LOG(INFO) << "trained " << s.done_this_run << " micro-batches in this run (" << s.steps
            << " optimizer steps in total); loss " << s.summary.first_loss << " -> " << s.summary.last_loss
            << "; checkpoint " << s.summary.last_checkpoint << "; " << absl::StrFormat("%.2f", s.summary.achieved_tflops)
            << " TFLOP/s of model FLOPs; waited for data "
            << absl::StrFormat("%.1f%%", 100.0 * s.summary.data_wait_seconds / std::max(s.summary.elapsed_seconds, 1e-9))
            << " of the time; peak host RSS " << absl::StrFormat("%.0f", PeakHostRssMiB()) << " MiB"
            << (s.summary.peak_memory.peak_allocated >= 0
                    ? absl::StrFormat("; CUDA peak allocated %.2f GiB, reserved %.2f GiB, in use %.2f GiB",
                                      s.summary.peak_memory.peak_allocated / 1073741824.0,
                                      s.summary.peak_memory.peak_reserved / 1073741824.0,
                                      s.summary.peak_memory.in_use / 1073741824.0)
                    : "");
  return s.summary;
}

}  // namespace chexworld
