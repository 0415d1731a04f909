#include "chexworld/train/experiment.h"

#include <cmath>
#include <iostream>
#include <optional>
#include <tuple>

#include <glog/logging.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "chexworld/core/config.h"
#include "chexworld/core/config_location.h"
#include "chexworld/core/failpoints.h"
#include "chexworld/core/paths.h"
#include "chexworld/core/registry.h"
#include "chexworld/core/status_macros.h"
#include "chexworld/data/dataset.h"
#include "chexworld/data/loader.h"
#include "chexworld/data/transforms/transform.h"
#include "chexworld/eval/evaluator.h"
#include "chexworld/eval/run_report.h"
#include "chexworld/masks/masker.h"
#include "chexworld/models/ema.h"
#include "chexworld/models/encoder.h"
#include "chexworld/models/predictor.h"
#include "chexworld/objectives/objective.h"
#include "chexworld/train/distributed.h"
#include "chexworld/train/networks.h"
#include "chexworld/train/param_groups.h"
#include "chexworld/train/pretrainer.h"
#include "chexworld/train/runtime.h"
#include "chexworld/train/schedules.h"
#include "chexworld/train/step_profiler.h"

namespace chexworld {
namespace {

// A figure that does not apply (CUDA memory on a CPU run: -1) is "n/a".
std::string OrNa(int64_t v) { return v < 0 ? "n/a" : absl::StrCat(v); }

absl::Status Require(bool present, absl::string_view field, absl::string_view why) {
  if (present) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat("config field '", field, "' is required ", why));
}

// A stochastic-depth rate in a component's options: its draws come from the
// one global generator, in an order that concurrent shards would vary.
double DropPathRate(absl::string_view kind, const ComponentSpec& spec) {
  auto info = ComponentCatalog::Global().Find(kind, spec.name());
  if (!info.ok()) return 0;  // reported when the component is built
  auto options = UnpackOptions(**info, spec);
  if (!options.ok()) return 0;  // reported when the component is built
  const auto* field = (*options)->GetDescriptor()->FindFieldByName("drop_path_rate");
  if (field == nullptr || field->cpp_type() != google::protobuf::FieldDescriptor::CPPTYPE_FLOAT) return 0;
  return (*options)->GetReflection()->GetFloat(**options, field);
}

absl::Status CheckConcurrentShards(const ExperimentConfig& c) {
  const int shards = c.trainer().concurrent_shards();
  if (shards < 0) return absl::InvalidArgumentError("trainer.concurrent_shards must be >= 0");
  if (shards <= 1) return absl::OkStatus();
  if (c.data().batch_size() % shards != 0) {
    return absl::InvalidArgumentError(absl::StrCat("trainer.concurrent_shards = ", shards,
                                                   " does not divide data.batch_size = ", c.data().batch_size(),
                                                   " into equal shards"));
  }
  if (!c.run().device().empty() && c.run().device() != "cpu") {
    return absl::InvalidArgumentError(absl::StrCat("trainer.concurrent_shards = ", shards, " is for CPU runs; run.device is \"",
                                                   c.run().device(), "\" (set it to 0 or 1)"));
  }
  for (const auto& [field, kind, spec] :
       std::vector<std::tuple<const char*, const char*, const ComponentSpec*>>{
           {"model.encoder", "encoder", &c.model().encoder()}, {"model.predictor", "predictor", &c.model().predictor()}}) {
    if (DropPathRate(kind, *spec) != 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "trainer.concurrent_shards = ", shards, " needs ", field, ".options.drop_path_rate = 0: concurrent shards draw "
          "stochastic depth from the global generator in a varying order, so the run would neither repeat nor "
          "resume exactly"));
    }
  }
  return absl::OkStatus();
}

absl::Status Pretrain(const ExperimentConfig& config, const std::string& run_dir, bool resume,
                      torch::Device device) {
  if (resume && PathExists(run_dir + "/summary.txt") && PathExists(run_dir + "/target_encoder.pt")) {
    // Its summary and exports stay as they are (a requeue after the end).
    LOG(INFO) << "pretraining in " << run_dir << " already finished (summary.txt): not repeated";
    return absl::OkStatus();
  }
  PretrainComponents c;
  ASSIGN_OR_RETURN(WorldModelNetworks nets, BuildWorldModelNetworks(config));
  c.encoder = nets.encoder;
  c.predictor = nets.predictor;
  c.encoder->to(device);
  c.predictor->to(device);
  c.target = MakeTargetEncoder(*c.encoder);  // after the move: the target lives where the encoder trains
  std::shared_ptr<ViewTransform> transform = nets.transform;
  LOG(INFO) << "encoder '" << config.model().encoder().name() << "': " << CountTrainableParameters(*c.encoder)
            << " trainable parameters; predictor '" << config.model().predictor().name()
            << "': " << CountTrainableParameters(*c.predictor);
  ASSIGN_OR_RETURN(c.objective, CreateObjective(config.objective()));
  ASSIGN_OR_RETURN(std::shared_ptr<Dataset> dataset, CreateDataset(config.data().dataset()));
  LOG(INFO) << "dataset '" << config.data().dataset().name() << "': " << dataset->size() << " images of "
            << dataset->image_height() << "x" << dataset->image_width();
  ASSIGN_OR_RETURN(std::shared_ptr<Masker> masker, CreateMasker(config.data().masker()));
  ASSIGN_OR_RETURN(DistributedEnv env, DistributedFromEnvironment());
  CommunicatorOptions co;
  co.backend = config.run().distributed_backend();
  co.rendezvous_timeout_s = config.run().rendezvous_timeout_s() > 0 ? config.run().rendezvous_timeout_s() : 300;
  co.collective_timeout_s = config.run().collective_timeout_s() > 0 ? config.run().collective_timeout_s() : 300;
  co.device = device;
  if (env.enabled()) {
    LOG(INFO) << "rank " << env.rank << " of " << env.world_size << " (local " << env.local_rank << " of "
              << env.local_world_size << ", from " << env.source << "): joining " << env.store_address();
  }
  ASSIGN_OR_RETURN(std::unique_ptr<Communicator> communicator, CreateCommunicator(env, co));
  c.communicator = std::move(communicator);
  LoaderOptions lo;
  lo.rank = env.rank;
  lo.world_size = env.world_size;
  lo.batch_size = config.data().batch_size();
  lo.num_workers = config.data().num_workers();
  lo.prefetch_batches = config.data().prefetch_batches() > 0 ? config.data().prefetch_batches() : 4;
  lo.seed = config.run().seed();
  lo.channels = static_cast<int>(c.encoder->in_channels());
  lo.patch_size = static_cast<int>(c.encoder->patch_size());
  lo.two_views = c.objective->needs_two_views();
  lo.pack = device.is_cuda();
  lo.pin_memory = device.is_cuda();
  ASSIGN_OR_RETURN(c.loader, PretrainLoader::Create(dataset, transform, masker, lo));
  ASSIGN_OR_RETURN(c.optimizer, CreateOptimizer(config.optimizer(), WorldModelParamGroups(*c.encoder, *c.predictor)));
  const double ipe_scale = config.trainer().ipe_scale() > 0 ? config.trainer().ipe_scale() : 1.0;
  ScheduleHorizon horizon{config.trainer().epochs(),
                          std::max<int64_t>(1, static_cast<int64_t>(ipe_scale * c.loader->batches_per_epoch()))};
  ASSIGN_OR_RETURN(c.lr, CreateSchedule(config.schedule().lr(), horizon));
  ASSIGN_OR_RETURN(c.weight_decay, CreateSchedule(config.schedule().weight_decay(), horizon));
  ASSIGN_OR_RETURN(c.ema, CreateSchedule(config.schedule().ema_momentum(), horizon));
  LOG(INFO) << (env.enabled() ? absl::StrCat("rank ", env.rank, " of ", env.world_size, ": ") : "")
            << c.loader->batches_per_epoch() << " batches of " << lo.batch_size << " per epoch, "
            << config.trainer().epochs() << " epochs; schedules over " << horizon.iterations_per_epoch
            << " iterations per epoch (ipe_scale " << ipe_scale << ")";
  Pretrainer trainer(config, run_dir, std::move(c), device);
  ASSIGN_OR_RETURN(PretrainSummary summary, trainer.Run(resume));
  if (env.rank != 0) return absl::OkStatus();
  std::string report = absl::StrCat("micro_batches: ", summary.micro_batches, "\noptimizer_steps: ",
                                    summary.optimizer_steps, "\nfirst_loss: ", summary.first_loss,
                                    "\nlast_loss: ", summary.last_loss, "\nimages_per_second: ",
                                    summary.images_per_second, "\ndata_wait_fraction: ",
                                    summary.data_wait_seconds / std::max(summary.elapsed_seconds, 1e-9),
                                    "\nmodel_gflop_per_image: ", summary.model_flops_per_image / 1e9,
                                    "\nachieved_tflops: ", summary.achieved_tflops,
                                    "\npeak_cuda_allocated_bytes: ", OrNa(summary.peak_memory.peak_allocated),
                                    "\npeak_cuda_reserved_bytes: ", OrNa(summary.peak_memory.peak_reserved),
                                    "\npeak_cuda_in_use_bytes: ", OrNa(summary.peak_memory.in_use),
                                    "\ncheckpoint: \"", summary.last_checkpoint, "\"\n");
  for (const auto& [k, v] : summary.last_terms) absl::StrAppend(&report, k, ": ", v, "\n");
  return WriteFileAtomically(run_dir + "/summary.txt", report);
}

}  // namespace

absl::Status CheckRunConfig(const RunConfig& r) {
  const std::string& b = r.distributed_backend();
  if (!b.empty() && b != "auto" && b != "gloo" && b != "nccl") {
    return absl::InvalidArgumentError(
        absl::StrCat("run.distributed_backend = \"", b, "\" is not \"auto\", \"gloo\" or \"nccl\""));
  }
  if (b == "nccl") {
    // The backend against the configured device (whether this machine has one
    // is CheckMachineCanRun's question, not the config's).
    const std::string d = r.device().empty() ? "cpu" : r.device();
    std::optional<torch::Device> device;
    try {
      device.emplace(d);
    } catch (const std::exception&) {
      return absl::InvalidArgumentError(absl::StrCat("run.device = \"", d, "\" is not a torch device string"));
    }
    RETURN_IF_ERROR(ResolveBackend(b, *device).status());
  }
  if (r.rendezvous_timeout_s() < 0) return absl::InvalidArgumentError("run.rendezvous_timeout_s must be >= 0 (0 = 300)");
  if (r.collective_timeout_s() < 0) return absl::InvalidArgumentError("run.collective_timeout_s must be >= 0 (0 = 300)");
  RETURN_IF_ERROR(ParseProfileWindow(r.profile_steps()).status());
  RETURN_IF_ERROR(CheckFailpointSpec());
  return DistributedFromEnvironment().status();
}

// trainer.cuda_graph replays one captured step: every batch must have the
// same shapes and the step must be the whole optimizer step of one process.
absl::Status CheckCudaGraph(const ExperimentConfig& c) {
  if (!c.trainer().cuda_graph()) return absl::OkStatus();
  auto refuse = [](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat("trainer.cuda_graph = true needs ", why));
  };
  if (c.run().device().rfind("cuda", 0) != 0) return refuse("run.device = \"cuda\"");
  if (c.trainer().accum_iter() > 1) return refuse("trainer.accum_iter = 1 (the graph holds one whole optimizer step)");
  if (c.trainer().concurrent_shards() > 1) return refuse("trainer.concurrent_shards = 0 or 1");
  ASSIGN_OR_RETURN(std::shared_ptr<Masker> masker, CreateMasker(c.data().masker()));
  if (!masker->fixed_lengths()) {
    return refuse("masks of fixed lengths (data.masker.options.fixed_lengths = true): a graph replays fixed shapes");
  }
  ASSIGN_OR_RETURN(DistributedEnv env, DistributedFromEnvironment());
  if (env.enabled()) return refuse("one process (the all-reduce of data-parallel ranks is not captured)");
  return absl::OkStatus();
}

// An objective that never conditions on actions with a predictor that builds
// an action network trains parameters that only transform mask tokens by a
// constant: refuse, naming both fixes.
absl::Status CheckPredictorMatchesObjective(const ExperimentConfig& c) {
  ASSIGN_OR_RETURN(std::shared_ptr<Objective> objective, CreateObjective(c.objective()));
  if (objective->conditions_on_actions()) return absl::OkStatus();
  ASSIGN_OR_RETURN(WorldModelNetworks nets, BuildWorldModelNetworks(c));
  const std::shared_ptr<Predictor>& predictor = nets.predictor;
  if (predictor->action_dim() == 0) return absl::OkStatus();
  int64_t action_params = 0;
  for (const auto& p : predictor->named_parameters()) {
    if (p.key().rfind("policy_net.", 0) == 0) action_params += p.value().numel();
  }
  const int64_t all = CountTrainableParameters(*predictor);
  return absl::InvalidArgumentError(absl::StrCat(
      "objective '", c.objective().name(), "' gives the predictor no actions (it always sees the identity action), but ",
      "model.predictor '", c.model().predictor().name(), "' builds an action network of ", action_params,
      " parameters (", all, " in all instead of ", all - action_params,
      "): set model.predictor.options.disable_action=true for I-JEPA, or objective.options.augmented_context=true to "
      "condition on the appearance augmentation"));
}

// Every schedule's own rules against the run's length (warmup shorter than the
// epochs, ...), as the trainer will build them. A warm-up too long names the
// field and the fix; the status carries the field (runners add its file:line).
absl::Status CheckSchedules(const ExperimentConfig& c) {
  const ScheduleHorizon horizon{std::max(1, c.trainer().epochs()), 1};
  for (const auto& [field, spec] : std::vector<std::pair<const char*, const ComponentSpec*>>{
           {"schedule.lr", &c.schedule().lr()},
           {"schedule.weight_decay", &c.schedule().weight_decay()},
           {"schedule.ema_momentum", &c.schedule().ema_momentum()}}) {
    auto s = CreateSchedule(*spec, horizon);
    if (s.ok()) continue;
    if (absl::StrContains(s.status().message(), "warmup_epochs")) {
      const std::string path = absl::StrCat(field, ".options.warmup_epochs");
      return WithConfigField(
          absl::InvalidArgumentError(absl::StrCat(
              path, ": ", s.status().message(), " (trainer.epochs = ", c.trainer().epochs(), "); set ", path,
              " below trainer.epochs, or raise trainer.epochs")),
          path);
    }
    return AddContext(s.status(), absl::StrCat(field, " (trainer.epochs = ", c.trainer().epochs(), ")"));
  }
  return absl::OkStatus();
}

absl::Status CheckExperimentComplete(const ExperimentConfig& c) {
  RETURN_IF_ERROR(CheckRunConfig(c.run()));
  RETURN_IF_ERROR(Require(c.model().has_encoder(), "model.encoder", "(every run builds an encoder)"));
  if (c.has_objective()) {
    const char* why = "to pretrain (objective is set)";
    RETURN_IF_ERROR(Require(c.model().has_predictor(), "model.predictor", why));
    RETURN_IF_ERROR(Require(c.data().has_dataset(), "data.dataset", why));
    RETURN_IF_ERROR(Require(c.data().has_transform(), "data.transform", why));
    RETURN_IF_ERROR(Require(c.data().has_masker(), "data.masker", why));
    RETURN_IF_ERROR(Require(c.data().batch_size() > 0, "data.batch_size", why));
    RETURN_IF_ERROR(Require(c.has_optimizer(), "optimizer", why));
    RETURN_IF_ERROR(Require(c.schedule().has_lr(), "schedule.lr", why));
    RETURN_IF_ERROR(Require(c.schedule().has_weight_decay(), "schedule.weight_decay", why));
    RETURN_IF_ERROR(Require(c.schedule().has_ema_momentum(), "schedule.ema_momentum", why));
    RETURN_IF_ERROR(Require(c.trainer().epochs() > 0, "trainer.epochs", why));
    RETURN_IF_ERROR(CheckConcurrentShards(c));
    RETURN_IF_ERROR(CheckCudaGraph(c));
    RETURN_IF_ERROR(CheckSchedules(c));
    RETURN_IF_ERROR(CheckPredictorMatchesObjective(c));
  }
  return absl::OkStatus();
}

absl::Status CheckMachineCanRun(const ExperimentConfig& c) { return ParseDevice(c.run().device()).status(); }

bool RunIsFinished(const ExperimentConfig& config, const std::string& run_dir) {
  if (!PathExists(run_dir + "/report.html")) return false;
  if (config.has_objective() && !PathExists(run_dir + "/summary.txt")) return false;
  if (config.evals_size() > 0 && !PathExists(run_dir + "/eval_summary.txt")) return false;
  return true;
}

absl::Status RunExperiment(const ExperimentConfig& config, const std::string& run_dir, bool resume) {
  RETURN_IF_ERROR(CheckExperimentComplete(config));
  ASSIGN_OR_RETURN(torch::Device device, ConfigureRuntime(config.run()));
  ASSIGN_OR_RETURN(DistributedEnv env, DistributedFromEnvironment());
  SetFailpointRank(env.rank);
  if (env.enabled() && device.is_cuda() && !device.has_index()) {
    // One GPU per rank on each node.
    device = torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(env.local_rank));
    LOG(INFO) << "rank " << env.rank << " trains on " << device.str();
  }
  torch::manual_seed(config.run().seed());
  if (config.has_objective()) {
    RETURN_IF_ERROR(Pretrain(config, run_dir, resume, device));
  } else if (config.evals_size() == 0) {
    ASSIGN_OR_RETURN(std::shared_ptr<Encoder> encoder, CreateEncoder(config.model().encoder()));
    LOG(INFO) << "encoder '" << config.model().encoder().name() << "': " << CountTrainableParameters(*encoder)
              << " trainable parameters (no objective and no evaluation: nothing to run)";
  }
  if (env.rank != 0) return absl::OkStatus();  // rank 0 evaluates and reports the shared result
  if (config.evals_size() == 0) return WriteRunReport(run_dir);
  EvalContext ctx;
  ctx.config = config;
  ctx.run_dir = run_dir;
  ctx.device = device;
  if (config.has_objective()) ctx.pretrained = run_dir + "/target_encoder.pt";
  {
    // The input side every evaluator defaults to, found once.
    ASSIGN_OR_RETURN(std::shared_ptr<Encoder> encoder, CreateEncoder(config.model().encoder()));
    ctx.image_size = encoder->image_size();
  }
  std::string summary, markdown;
  for (int i = 0; i < config.evals_size(); ++i) {
    ASSIGN_OR_RETURN(std::shared_ptr<Evaluator> evaluator, CreateEvaluator(config.evals(i)));
    LOG(INFO) << "evaluation " << i + 1 << "/" << config.evals_size() << ": " << config.evals(i).name();
    auto report = evaluator->Run(ctx);
    if (!report.ok()) return AddContext(report.status(), absl::StrCat("evals[", i, "] (", config.evals(i).name(), ")"));
    for (const auto& [k, v] : report->summary) absl::StrAppend(&summary, report->name, "/", k, ": ", v, "\n");
    absl::StrAppend(&markdown, report->markdown, "\n");
    std::cout << report->markdown << std::endl;
  }
  RETURN_IF_ERROR(WriteFileAtomically(run_dir + "/eval_summary.txt", summary));
  RETURN_IF_ERROR(WriteFileAtomically(run_dir + "/eval/results.md", markdown));
  RETURN_IF_ERROR(WriteRunReport(run_dir));
  LOG(INFO) << "report: " << run_dir << "/report.html";
  return absl::OkStatus();
}

}  // namespace chexworld
