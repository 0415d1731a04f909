#include "chexworld/train/pretrainer.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <sstream>

#include <ATen/CPUGeneratorImpl.h>
#include <glog/logging.h>

#include <mutex>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "chexworld/core/config.h"
#include "chexworld/core/durable_file.h"
#include "chexworld/core/failpoints.h"
#include "chexworld/core/paths.h"
#include "chexworld/core/status_macros.h"
#include "chexworld/models/checkpoint/state_dict.h"
#include "chexworld/models/ema.h"
#include "chexworld/train/checkpoint_dir.h"
#include "chexworld/train/param_groups.h"
#include "chexworld/train/preemption.h"
#include "chexworld/train/sharded_step.h"
#include "chexworld/train/tensorboard.h"

namespace chexworld {
namespace {

// As the official optimizer.zero_grad(set_to_none=True): the next backward
// writes each gradient instead of adding it to a zeroed buffer (libtorch 1.x's
// Optimizer::zero_grad() zeroes in place).
void ClearGradients(const std::vector<torch::Tensor>& params) {
  for (auto p : params) p.mutable_grad().reset();
}

double ClipGradNorm(const std::vector<torch::Tensor>& params, double max_norm) {
  std::vector<torch::Tensor> grads;
  for (const auto& p : params) {
    if (p.grad().defined()) grads.push_back(p.grad());
  }
  if (grads.empty()) return 0;
  torch::NoGradGuard g;
  std::vector<torch::Tensor> norms;
  for (const auto& gr : grads) norms.push_back(gr.norm(2));
  const double total = torch::stack(norms).norm(2).item<double>();
  if (max_norm > 0) {
    const double coef = max_norm / (total + 1e-6);
    if (coef < 1) {
      for (auto& gr : grads) gr.mul_(coef);
    }
  }
  return total;
}

std::string FormatDuration(double seconds) {
  const int64_t s = static_cast<int64_t>(seconds);
  return absl::StrFormat("%d:%02d:%02d", s / 3600, (s / 60) % 60, s % 60);
}

}  // namespace

absl::Status LoadCheckpointNetworks(const std::string& path, torch::nn::Module* encoder,
                                    torch::nn::Module* target_encoder, torch::nn::Module* predictor) {
  torch::serialize::InputArchive archive;
  try {
    archive.load_from(path);
    for (auto [key, module] : std::vector<std::pair<const char*, torch::nn::Module*>>{
             {"encoder", encoder}, {"target_encoder", target_encoder}, {"predictor", predictor}}) {
      if (module == nullptr) continue;
      torch::serialize::InputArchive a;
      archive.read(key, a);
      NamedTensors tensors;
      for (const auto& [name, t] : GetStateDict(*module)) {
        torch::Tensor v;
        a.read(name, v);
        tensors.emplace_back(name, v);
      }
      RETURN_IF_ERROR_CTX(LoadStateDict(*module, tensors, LoadMode::kStrict).status(), path, " ", key);
    }
  } catch (const std::exception& e) {
    return absl::DataLossError(absl::StrCat("cannot read checkpoint ", path, ": ", std::string(e.what()).substr(0, 300)));
  }
  return absl::OkStatus();
}

Pretrainer::Pretrainer(ExperimentConfig config, std::string run_dir, PretrainComponents components,
                       torch::Device device)
    : config_(std::move(config)), run_dir_(std::move(run_dir)), c_(std::move(components)), device_(device) {}

absl::Status Pretrainer::SaveCheckpoint(int64_t epoch, int64_t batch, int64_t iteration, int64_t steps,
                                        std::string* path) {
  const std::string dir = run_dir_ + "/checkpoints";
  const std::string previous = LatestCheckpoint(dir);
  *path = CheckpointPath(dir, iteration);
  if (c_.communicator->rank() != 0) return absl::OkStatus();  // one writer; all ranks hold the same state
  torch::serialize::OutputArchive archive;
  auto nested = [&](const char* key, const torch::nn::Module& m) {
    torch::serialize::OutputArchive a;
    for (const auto& [name, t] : GetStateDict(m)) a.write(name, t);
    archive.write(key, a);
  };
  nested("encoder", *c_.encoder);
  nested("target_encoder", *c_.target);
  nested("predictor", *c_.predictor);
  torch::serialize::OutputArchive opt;
  c_.optimizer->optimizer().save(opt);
  archive.write("optimizer", opt);
  archive.write("epoch", c10::IValue(epoch));
  archive.write("batch", c10::IValue(batch));
  archive.write("iteration", c10::IValue(iteration));
  archive.write("optimizer_steps", c10::IValue(steps));
  {
    at::Generator gen = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(gen.mutex());
    archive.write("rng_cpu", gen.get_state());
  }
  archive.write("config", c10::IValue(ToTextProto(config_)));
  RETURN_IF_ERROR(MakeDirectories(dir));
  // Written through a temporary, fsynced, recorded in a CRC sidecar, renamed:
  // a kill or a full disk leaves the previous checkpoint as it was.
  const std::string kept = previous.empty() ? "no earlier checkpoint exists" : "the previous checkpoint " + previous +
                                                                                   " is intact";
  DurableFileOptions o;
  o.write_point = "checkpoint_write";
  o.written_point = "checkpoint_tmp";
  o.committed_point = "checkpoint";
  ASSIGN_OR_RETURN(std::unique_ptr<DurableFile> file, DurableFile::Create(*path, o));
  try {
    archive.save_to([&](const void* data, size_t n) { return file->Write(data, n); });
  } catch (const std::exception& e) {
    return absl::DataLossError(absl::StrCat("cannot serialise checkpoint ", *path, ": ", e.what(), "; ", kept));
  }
  // A write error (ENOSPC, EIO) surfaces here, naming the path and errno.
  RETURN_IF_ERROR_CTX(file->Commit(), "checkpoint not written; ", kept);
  const int keep = config_.trainer().keep_last() == 0 ? 2 : config_.trainer().keep_last();
  PruneCheckpoints(dir, keep);
  return absl::OkStatus();
}

absl::Status Pretrainer::LoadCheckpoint(const std::string& path, int64_t* epoch, int64_t* batch,
                                        int64_t* iteration, int64_t* steps) {
  torch::serialize::InputArchive archive;
  try {
    archive.load_from(path);
    c10::IValue config;
    archive.read("config", config);
    if (config.toStringRef() != ToTextProto(config_)) {
      return absl::FailedPreconditionError(absl::StrCat(
          path, " was written with another config; resume with the run's own config (",
          run_dir_, "/config.textproto) or start a new run folder"));
    }
    RETURN_IF_ERROR(LoadCheckpointNetworks(path, c_.encoder.get(), c_.target.get(), c_.predictor.get()));
    torch::serialize::InputArchive opt;
    archive.read("optimizer", opt);
    c_.optimizer->optimizer().load(opt);
    c10::IValue v;
    archive.read("epoch", v);
    *epoch = v.toInt();
    archive.read("batch", v);
    *batch = v.toInt();
    archive.read("iteration", v);
    *iteration = v.toInt();
    archive.read("optimizer_steps", v);
    *steps = v.toInt();
    torch::Tensor rng;
    archive.read("rng_cpu", rng);
    at::Generator gen = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(gen.mutex());
    gen.set_state(rng);
  } catch (const std::exception& e) {
    return absl::DataLossError(absl::StrCat("cannot read checkpoint ", path, ": ",
                                            std::string(e.what()).substr(0, 300)));
  }
  return absl::OkStatus();
}

absl::Status Pretrainer::ResumeLatestGood(int64_t* epoch, int64_t* batch, int64_t* iteration, int64_t* steps,
                                          std::string* loaded) {
  const std::string dir = run_dir_ + "/checkpoints";
  const std::vector<std::string> all = ListCheckpoints(dir);
  if (all.empty()) {
    LOG(WARNING) << "--resume: no checkpoint in " << dir << " yet; starting at step 0";
  }
  std::vector<std::string> unusable;
  for (auto it = all.rbegin(); it != all.rend() && loaded->empty(); ++it) {
    absl::Status s = VerifyDurableFile(*it);
    if (s.ok()) s = LoadCheckpoint(*it, epoch, batch, iteration, steps);
    if (s.ok()) {
      *loaded = *it;
      break;
    }
    // Another config is the user's mistake, not damage: never skip past it.
    if (s.code() == absl::StatusCode::kFailedPrecondition) return s;
    LOG(WARNING) << "--resume: " << *it << " is unusable (" << s.message() << ")"
                 << (std::next(it) != all.rend() ? "; trying the previous checkpoint" : "");
    unusable.push_back(std::string(s.message()));
    if (c_.communicator->rank() == 0) LOG(WARNING) << "moved it aside to " << QuarantineCheckpoint(*it);
  }
  if (!all.empty() && loaded->empty()) {
    return absl::DataLossError(absl::StrCat("--resume: none of the ", all.size(), " checkpoints in ", dir,
                                            " is readable: ", absl::StrJoin(unusable, "; "),
                                            ". Restore a checkpoint or start a new run folder"));
  }
  if (!loaded->empty()) {
    LOG(INFO) << "resumed " << *loaded << " at epoch " << *epoch << ", batch " << *batch << " (micro-batch "
              << *iteration << ", optimizer step " << *steps << ")";
    if (!unusable.empty()) {
      LOG(WARNING) << "--resume skipped " << unusable.size() << " newer unusable checkpoint(s); training repeats from micro-batch "
                   << *iteration;
    }
    RETURN_IF_ERROR(Failpoint("resumed"));
  }
  if (c_.communicator->world_size() > 1) {
    // Every rank must continue from the same place.
    auto where = torch::tensor({static_cast<double>(*iteration)}, torch::kFloat64);
    RETURN_IF_ERROR(c_.communicator->AllReduceMean({where}));
    if (where.item<double>() != static_cast<double>(*iteration)) {
      return absl::FailedPreconditionError(absl::StrCat("rank ", c_.communicator->rank(), " resumed micro-batch ",
                                                        *iteration, " but the ranks disagree (mean ", where.item<double>(),
                                                        "): do all ranks see the same run folder?"));
    }
  }
  return absl::OkStatus();
}

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
  const TrainerConfig& tc = config_.trainer();
  const int accum = std::max(1, tc.accum_iter());
  const int64_t per_epoch = c_.loader->batches_per_epoch();
  const int64_t epochs = std::max(1, tc.epochs());
  int64_t total = epochs * per_epoch;
  if (tc.max_steps() > 0) total = std::min<int64_t>(total, tc.max_steps());
  const int log_every = tc.log_every() > 0 ? tc.log_every() : 10;
  const int64_t batch_size = config_.data().batch_size();

  std::vector<torch::Tensor> params;
  for (const auto& p : c_.encoder->parameters()) {
    if (p.requires_grad()) params.push_back(p);
  }
  for (const auto& p : c_.predictor->parameters()) {
    if (p.requires_grad()) params.push_back(p);
  }

  int64_t epoch = 0, batch = 0, iteration = 0, steps = 0;
  PretrainSummary summary;
  const bool writer = c_.communicator->rank() == 0;
  const std::string metrics_path =
      writer ? run_dir_ + "/metrics.csv" : absl::StrCat(run_dir_, "/.rank", c_.communicator->rank(), "_metrics.csv");
  RETURN_IF_ERROR(Failpoint("startup"));
  if (resume) RETURN_IF_ERROR(ResumeLatestGood(&epoch, &batch, &iteration, &steps, &summary.last_checkpoint));
  std::optional<double> resumed_first_loss;
  // Metrics: keep the complete rows before the resumed position, then append.
  // A kill can leave a row cut anywhere (the stream flushes when its buffer
  // fills), even inside its iteration number, so only newline-terminated rows
  // with the header's field count are kept.
  {
    std::string kept;
    if (resume) {
      auto old = ReadFile(metrics_path);
      if (old.ok()) {
        const size_t end = old->rfind('\n');
        const absl::string_view complete =
            end == std::string::npos ? absl::string_view() : absl::string_view(*old).substr(0, end + 1);
        size_t fields = 0;
        for (absl::string_view line : absl::StrSplit(complete, '\n', absl::SkipEmpty())) {
          const size_t n = std::count(line.begin(), line.end(), ',') + 1;
          if (line.rfind("iteration", 0) == 0) {
            fields = n;
            kept += std::string(line) + "\n";
            continue;
          }
          int64_t it = 0;
          if (n == fields && absl::SimpleAtoi(line.substr(0, line.find(',')), &it) && it < iteration) {
            kept += std::string(line) + "\n";
            // The run's first loss (column 4), for the summary of a resumed run.
            std::vector<absl::string_view> cells = absl::StrSplit(line, ',');
            double first = 0;
            if (!resumed_first_loss.has_value() && cells.size() > 3 && absl::SimpleAtod(cells[3], &first)) {
              resumed_first_loss = first;
            }
          }
        }
      }
    }
    RETURN_IF_ERROR(WriteFileAtomically(metrics_path, kept));
  }
  std::ofstream metrics(metrics_path, std::ios::app);
  ASSIGN_OR_RETURN(std::unique_ptr<EventWriter> events,
                   EventWriter::Create(writer ? run_dir_ + "/tensorboard"
                                              : absl::StrCat(run_dir_, "/.rank", c_.communicator->rank(), "_tensorboard")));
  bool header_written = resume && iteration > 0;

  c_.encoder->train();
  c_.predictor->train();
  c_.target->train();
  ClearGradients(params);
  const int shards = std::max(1, tc.concurrent_shards());
  const int threads_per_shard = std::max(1, torch::get_num_threads() / shards);
  ShardedStep step(shards, threads_per_shard, device_, tc.precision() == TrainerConfig::BF16);
  if (shards > 1) {
    LOG(INFO) << "each micro-batch runs as " << shards << " concurrent shards of " << batch_size / shards
              << " images, " << threads_per_shard << " torch thread(s) each";
    if (shards > torch::get_num_threads()) {
      LOG(WARNING) << "trainer.concurrent_shards = " << shards << " exceeds the " << torch::get_num_threads()
                   << " torch thread(s) of this process (run.threads): the shards share cores, which is slower "
                      "than one pass; with one rank per core set trainer.concurrent_shards=1";
    }
  }
  const auto start = std::chrono::steady_clock::now();
  int64_t done_this_run = 0;
  int64_t saved_at = -1;  // micro-batch of the last checkpoint this run wrote
  bool warned_collapse = false;
  bool stop_agreed = false;  // a preemption signal, agreed by all ranks
  int collapsed_for = 0;
  while (iteration < total && epoch < epochs) {
    c_.loader->Start(epoch, batch);
    while (iteration < total) {
      const auto wait_start = std::chrono::steady_clock::now();
      ASSIGN_OR_RETURN(std::optional<WorldModelBatch> next, c_.loader->Next());
      if (!next.has_value()) break;
      // Time the step waited for its batch: > 0 means the input pipeline, not
      // the model, sets the pace.
      const double data_wait =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - wait_start).count();
      summary.data_wait_seconds += data_wait;
      const int64_t it = epoch * per_epoch + c_.loader->position() - 1;
      const double lr = c_.lr->Value(it), wd = c_.weight_decay->Value(it);
      c_.optimizer->SetHyperparameters(lr, wd);
      WorldModelBatch b = next->To(device_);
      ObjectiveOutput out =
          step.ForwardBackward(*c_.objective, *c_.encoder, *c_.target, *c_.predictor, b, params, 1.0 / accum);
      RETURN_IF_ERROR(Failpoint("step"));
      if (c_.communicator->world_size() > 1) {
        // Log the global batch's loss terms: average them over ranks. A stop
        // request rides along, so every rank stops after the same step
        // however the signal's arrival was staggered.
        std::vector<double> vals = {out.loss.item<double>(), out.pred_std, out.target_std};
        for (const auto& [k, v] : out.terms) vals.push_back(v);
        vals.push_back(PreemptionWatch::Requested() ? 1.0 : 0.0);
        auto t = torch::tensor(vals, torch::kFloat64);
        RETURN_IF_ERROR(c_.communicator->AllReduceMean({t}));
        out.pred_std = t[1].item<double>();
        out.target_std = t[2].item<double>();
        size_t k = 3;
        for (auto& [name, v] : out.terms) v = t[k++].item<double>();
        logged_loss_ = t[0].item<double>();
        if (t[k].item<double>() > 0) stop_agreed = true;
      } else {
        logged_loss_ = out.loss.item<double>();
        if (PreemptionWatch::Requested()) stop_agreed = true;
      }
      const double loss = logged_loss_;
      if (!std::isfinite(loss)) {
        std::vector<std::string> terms;
        for (const auto& [k, v] : out.terms) terms.push_back(absl::StrCat(k, "=", v));
        return absl::InternalError(absl::StrCat(
            "non-finite loss ", loss, " at micro-batch ", it, " (epoch ", epoch, ", batch ", c_.loader->position() - 1,
            "); terms: ", absl::StrJoin(terms, ", "), "; last good checkpoint: ",
            summary.last_checkpoint.empty() ? "(none)" : summary.last_checkpoint));
      }
      double grad_norm = std::nan("");
      double momentum = std::nan("");
      if ((it + 1) % accum == 0) {
        if (c_.communicator->world_size() > 1) {
          std::vector<torch::Tensor> grads;
          for (const auto& p : params) {
            if (p.grad().defined()) grads.push_back(p.grad());
          }
          RETURN_IF_ERROR(c_.communicator->AllReduceMean(grads));
        }
        grad_norm = ClipGradNorm(params, tc.clip_grad());
        c_.optimizer->Step();
        ClearGradients(params);
        momentum = c_.ema->Value(it);
        EmaUpdate(*c_.target, *c_.encoder, momentum);
        ++steps;
      }
      iteration = it + 1;
      ++done_this_run;
      if (done_this_run == 1) summary.first_loss = resumed_first_loss.value_or(loss);
      summary.micro_batches = iteration;  // of the whole run, resumed parts included
      summary.last_loss = loss;
      summary.last_terms = out.terms;
      // Collapse: predictions that no longer differ between positions, for
      // 100 micro-batches in a row after the first epoch (early training dips
      // through the mean token and recovers).
      if (tc.collapse_std_threshold() > 0 && epoch > 0 && out.pred_std < tc.collapse_std_threshold()) {
        if (++collapsed_for == 100 && !warned_collapse) {
          LOG(WARNING) << "possible collapse: for 100 micro-batches up to " << it
                       << " the predictions' std over tokens stayed below " << tc.collapse_std_threshold()
                       << " (now " << out.pred_std << "; targets " << out.target_std << ")";
          warned_collapse = true;
        }
      } else {
        collapsed_for = 0;
      }
      const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      const double ips = done_this_run * batch_size / std::max(elapsed, 1e-9);
      summary.images_per_second = ips;
      summary.elapsed_seconds = elapsed;
      if (!header_written) {
        metrics << "iteration,epoch,step,loss";
        for (const auto& [k, v] : out.terms) metrics << "," << k;
        metrics << ",lr,weight_decay,ema,grad_norm,pred_std,target_std,images_per_s,elapsed_s,data_wait_s\n";
        header_written = true;
      }
      {
        std::ostringstream row;
        row << it << "," << epoch << "," << steps << "," << loss;
        for (const auto& [k, v] : out.terms) row << "," << v;
        row << "," << lr << "," << wd << "," << momentum << "," << grad_norm << "," << out.pred_std << ","
            << out.target_std << "," << ips << "," << elapsed << "," << data_wait << "\n";
        const std::string text = row.str();
        const size_t half = text.size() / 2;
        metrics << text.substr(0, half);
        if (FailpointArmed()) {
          metrics.flush();  // as a kill between two buffer flushes leaves it
          RETURN_IF_ERROR(Failpoint("metrics_row"));
        }
        metrics << text.substr(half);
      }
      {
        std::map<std::string, double> scalars = {{"loss/total", loss}, {"schedule/lr", lr}, {"schedule/weight_decay", wd},
                                                 {"monitor/pred_std", out.pred_std}, {"monitor/target_std", out.target_std},
                                                 {"speed/images_per_s", ips}, {"speed/data_wait_s", data_wait}};
        for (const auto& [k, v] : out.terms) scalars["loss/" + k] = v;
        if (!std::isnan(momentum)) scalars["schedule/ema"] = momentum;
        if (!std::isnan(grad_norm)) scalars["monitor/grad_norm"] = grad_norm;
        events->AddScalars(it, scalars);
      }
      if (iteration % log_every == 0 || iteration == total) {
        metrics.flush();
        events->Flush();
        std::string terms;
        for (const auto& [k, v] : out.terms) absl::StrAppend(&terms, " ", k, "=", absl::StrFormat("%.4f", v));
        const double eta = (total - iteration) * batch_size / std::max(ips, 1e-9);
        LOG(INFO) << absl::StrFormat("[%d/%d] epoch %d loss %.4f%s lr %.3g %.1f img/s ETA %s", iteration, total, epoch,
                                     loss, terms, lr, ips, FormatDuration(eta));
      }
      const bool at_step = (it + 1) % accum == 0;
      if (at_step && tc.checkpoint_every() > 0 && steps % tc.checkpoint_every() == 0) {
        metrics.flush();  // rows up to the checkpoint survive a crash
        RETURN_IF_ERROR(SaveCheckpoint(epoch, c_.loader->position(), iteration, steps, &summary.last_checkpoint));
        saved_at = iteration;
      }
      if (at_step && stop_agreed && iteration < total) {
        // Preempted: the step is complete; make sure it is on disk, then stop.
        metrics.flush();
        events->Flush();
        if (saved_at != iteration) {
          RETURN_IF_ERROR(SaveCheckpoint(epoch, c_.loader->position(), iteration, steps, &summary.last_checkpoint));
        }
        RETURN_IF_ERROR(c_.communicator->Barrier());
        const std::string why = PreemptionWatch::SignalName().empty() ? "another rank's stop signal"
                                                                      : PreemptionWatch::SignalName();
        LOG(WARNING) << "preempted by " << why << " after micro-batch " << iteration << " (optimizer step " << steps
                     << "): checkpoint " << summary.last_checkpoint << "; continue with --resume --run_dir=" << run_dir_;
        return PreemptedError(absl::StrCat("preempted by ", why, " at micro-batch ", iteration, "; checkpoint ",
                                           summary.last_checkpoint, " (resume with --resume)"));
      }
    }
    if (c_.loader->position() >= per_epoch) {
      ++epoch;
      batch = 0;
    } else {
      batch = c_.loader->position();
    }
  }
  metrics.flush();
  summary.optimizer_steps = steps;
  RETURN_IF_ERROR(SaveCheckpoint(epoch, batch, iteration, steps, &summary.last_checkpoint));
  // Encoders for downstream use, in the official key layout (torch.load-able).
  if (writer) {
    RETURN_IF_ERROR(SaveStateDict(GetStateDict(*c_.target), run_dir_ + "/target_encoder.pt"));
    RETURN_IF_ERROR(SaveStateDict(GetStateDict(*c_.encoder), run_dir_ + "/encoder.pt"));
  }
  RETURN_IF_ERROR(c_.communicator->Barrier());
  LOG(INFO) << "trained " << done_this_run << " micro-batches in this run (" << steps
            << " optimizer steps in total); loss " << summary.first_loss << " -> " << summary.last_loss
            << "; checkpoint " << summary.last_checkpoint;
  return summary;
}

}  // namespace chexworld
