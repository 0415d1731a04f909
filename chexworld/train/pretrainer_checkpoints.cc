// Checkpoints of the pretrainer: writing (durably, rank 0), reading, and
// resuming from the newest one that verifies.
#include <ATen/CPUGeneratorImpl.h>
#include <glog/logging.h>

#include <mutex>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "chexworld/core/config.h"
#include "chexworld/core/durable_file.h"
#include "chexworld/core/failpoints.h"
#include "chexworld/core/paths.h"
#include "chexworld/core/status_macros.h"
#include "chexworld/models/checkpoint/state_dict.h"
#include "chexworld/train/checkpoint_dir.h"
#include "chexworld/train/pretrainer.h"

namespace chexworld {

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

absl::Status Pretrainer::SaveCheckpoint(int64_t epoch, int64_t batch, int64_t iteration, int64_t steps,
                                        const RunTotals& totals, std::string* path) {
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
  c_.optimizer->state().save(opt);
  archive.write("optimizer", opt);
  archive.write("epoch", c10::IValue(epoch));
  archive.write("batch", c10::IValue(batch));
  archive.write("iteration", c10::IValue(iteration));
  archive.write("optimizer_steps", c10::IValue(steps));
  // The run so far, for a summary that describes the whole run after a resume.
  archive.write("totals/images", c10::IValue(totals.images));
  archive.write("totals/model_flops", c10::IValue(totals.model_flops));
  archive.write("totals/train_seconds", c10::IValue(totals.train_seconds));
  archive.write("totals/data_wait_seconds", c10::IValue(totals.data_wait_seconds));
  archive.write("totals/peak_cuda_allocated", c10::IValue(totals.peak_memory.peak_allocated));
  archive.write("totals/peak_cuda_reserved", c10::IValue(totals.peak_memory.peak_reserved));
  archive.write("totals/peak_cuda_in_use", c10::IValue(totals.peak_memory.in_use));
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
    c_.optimizer->LoadState(opt);
    c10::IValue v;
    archive.read("epoch", v);
    *epoch = v.toInt();
    archive.read("batch", v);
    *batch = v.toInt();
    archive.read("iteration", v);
    *iteration = v.toInt();
    archive.read("optimizer_steps", v);
    *steps = v.toInt();
    resumed_ = RunTotals();
    if (archive.try_read("totals/images", v)) {
      resumed_.images = v.toDouble();
      archive.read("totals/model_flops", v);
      resumed_.model_flops = v.toDouble();
      archive.read("totals/train_seconds", v);
      resumed_.train_seconds = v.toDouble();
      archive.read("totals/data_wait_seconds", v);
      resumed_.data_wait_seconds = v.toDouble();
      archive.read("totals/peak_cuda_allocated", v);
      resumed_.peak_memory.peak_allocated = v.toInt();
      archive.read("totals/peak_cuda_reserved", v);
      resumed_.peak_memory.peak_reserved = v.toInt();
      archive.read("totals/peak_cuda_in_use", v);
      resumed_.peak_memory.in_use = v.toInt();
    } else {
      LOG(WARNING) << path << " keeps no run totals (an older checkpoint): summary.txt's speed and FLOP figures "
                      "will describe the micro-batches after this resume only";
    }
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
    auto where = torch::full({1}, static_cast<double>(*iteration), torch::TensorOptions().dtype(torch::kFloat64).device(device_));
    RETURN_IF_ERROR(c_.communicator->AllReduceMean({where}, "resume positions", {"micro-batch"}));
    if (where.item<double>() != static_cast<double>(*iteration)) {
      return absl::FailedPreconditionError(absl::StrCat("rank ", c_.communicator->rank(), " resumed micro-batch ",
                                                        *iteration, " but the ranks disagree (mean ", where.item<double>(),
                                                        "): do all ranks see the same run folder?"));
    }
  }
  return absl::OkStatus();
}

}  // namespace chexworld
